/**
 * Turns Ajv's complaint about a request into one sentence a caller can act on. Ajv reports a
 * failed `oneOf` as every branch's error plus "must match exactly one schema in oneOf", which for
 * "a vector or an item" reads as three contradictory demands; and it checks `oneOf` before
 * `additionalProperties`, so a misspelt field would be reported as a missing one.
 * Needs Ajv's `verbose` option: the oneOf error then carries the data and schemas it judged.
 */

/** The fields of an Ajv error this reads (Fastify types them without the verbose ones). */
export interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  schema?: unknown;
  parentSchema?: { properties?: Record<string, unknown>; additionalProperties?: unknown };
  data?: unknown;
}

/** `where` is the part of the request: body, querystring, params. */
export function validationMessage(where: string, errors: readonly SchemaError[], fallback: string): string {
  const oneOf = errors.find((e) => e.keyword === 'oneOf');
  if (oneOf) return oneOfMessage(where, oneOf, errors[0]);
  const first = errors[0];
  if (first?.keyword === 'additionalProperties') return unknownField(at(where, first), String(first.params.additionalProperty));
  return fallback;
}

function at(where: string, error: SchemaError): string {
  return error.instancePath ? `${where}${error.instancePath}` : where;
}

function unknownField(path: string, field: string): string {
  return `${path} has an unknown field ${JSON.stringify(field)}`;
}

/**
 * The routes' oneOf branches each require one field (`vector` or `item`): "either … or …" names
 * them, and "not both" when more than one branch matched. A branch failing for another reason
 * (the value is not an object) is reported as Ajv words it.
 */
function oneOfMessage(where: string, oneOf: SchemaError, first: SchemaError): string {
  const path = at(where, oneOf);
  const unknown = unknownFieldOf(oneOf);
  if (unknown !== undefined) return unknownField(path, unknown);
  const branches = Array.isArray(oneOf.schema) ? (oneOf.schema as { required?: unknown }[]) : [];
  const names = branches.flatMap((b) => (Array.isArray(b.required) ? b.required.map(String) : []));
  const passing = oneOf.params.passingSchemas;
  if (names.length === branches.length && names.length > 1) {
    const choice = `${names.slice(0, -1).map((n) => JSON.stringify(n)).join(', ')} or ${JSON.stringify(names[names.length - 1])}`;
    if (Array.isArray(passing)) return `${path} must have either ${choice}, not both`;
    if (first.keyword === 'required') return `${path} must have either ${choice}`;
  }
  return `${at(where, first)} ${first.message ?? 'is invalid'}`;
}

/** A field the object's own schema does not allow, which Ajv would have named had oneOf not failed first. */
function unknownFieldOf(oneOf: SchemaError): string | undefined {
  const parent = oneOf.parentSchema;
  const data = oneOf.data;
  if (!parent || parent.additionalProperties !== false || typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const known = parent.properties ?? {};
  return Object.keys(data).find((key) => !Object.hasOwn(known, key));
}
