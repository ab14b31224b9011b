import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { Ajv, type Options as AjvOptions } from 'ajv';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import admin from '../../routes/admin.js';
import { sharedSchemas } from '../../routes/schemas.js';
import health from '../../routes/health.js';
import indexes from '../../routes/indexes.js';
import items from '../../routes/items.js';
import metrics from '../../routes/metrics.js';
import search from '../../routes/search.js';
import type { ServiceConfig } from './config.js';
import { ServiceError } from './errors.js';
import auth from './plugins/auth.js';
import core from './plugins/core.js';
import observability from './plugins/observability.js';
import openapi from './plugins/openapi.js';
import type { LoadedIndex } from './registry/loader.js';

export interface AppOptions {
  config: ServiceConfig;
  /** A pino logger or Fastify logger options; defaults to JSON logs at config.logLevel. */
  logger?: FastifyServerOptions['loggerInstance'];
  /** Test hook: replaces the loader worker. */
  load?: (dir: string, name: string) => Promise<LoadedIndex>;
}

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** Accepts a caller's x-request-id when it is short and plain; otherwise makes one. */
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Bodies are validated strictly (no type coercion: "1" is not a number; unknown fields are errors,
 * not silently dropped); path and query strings are text, so they are coerced to the schema types.
 */
function validators(): { body: Ajv; text: Ajv } {
  const common: AjvOptions = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false };
  return { body: new Ajv({ ...common, coerceTypes: false }), text: new Ajv({ ...common, coerceTypes: 'array' }) };
}

function errorBody(statusCode: number, message: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** Makes Ajv's first complaint readable, naming an unknown field when that is the problem. */
function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  const where = err.validationContext ?? 'request';
  if (first?.keyword === 'additionalProperties') {
    const field = (first.params as { additionalProperty?: string }).additionalProperty;
    const path = first.instancePath ? `${where}${first.instancePath}` : where;
    return `${path} has an unknown field ${JSON.stringify(field)}`;
  }
  return err.message;
}

/** Builds the service: plugins for the shared parts, one plugin per resource, one error shape. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: { level: config.logLevel } }),
    bodyLimit: config.bodyLimit,
    genReqId: requestId,
    requestIdHeader: false,
    // The access log is ours (observability plugin): one line, no headers or bodies.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // External ids travel in the path; the router's default cap is 100 characters.
    routerOptions: { maxParamLength: 1024 },
  }) as unknown as FastifyInstance;

  const ajv = validators();
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv.body : ajv.text).compile(schema));

  // Handlers first: a plugin registered with `await` captures the handlers in place at that moment.
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof ServiceError) {
      if (err.headers) reply.headers(err.headers);
      return reply.code(err.statusCode).send(errorBody(err.statusCode, err.message));
    }
    if (err.validation) return reply.code(400).send(errorBody(400, validationMessage(err)));
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status < 500) return reply.code(status).send(errorBody(status, err.message));
    request.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody(500, 'internal error; see the server log for request id ' + request.id));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url;
    return reply.code(404).send(errorBody(404, `no route ${request.method} ${path}`));
  });

  await app.register(core, { config, load: options.load });
  await app.register(observability, { accessLog: config.accessLog });
  if (config.apiKey) await app.register(auth, { apiKey: config.apiKey });
  await app.register(openapi, { ui: config.docs });

  for (const schema of sharedSchemas) app.addSchema(schema);
  await app.register(health);
  await app.register(metrics);
  await app.register(indexes);
  await app.register(items, { config });
  await app.register(search, { config });
  if (config.adminToken) await app.register(admin, { token: config.adminToken });

  return app;
}
