import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { defaultThreads } from '../platform/cgroup-limits.js';
import { INDEX_NAME, INDEX_NAME_PATTERN } from '../index-files/index-name.js';

/** Every setting of the service, resolved once at start-up; hot paths read these fields only. */
export interface ServiceConfig {
  indexDir: string;
  host: string;
  port: number;
  workers: number;
  logLevel: string;
  accessLog: boolean;
  adminToken: string | null;
  apiKey: string | null;
  apiKeys: string[];
  corsOrigins: string[];
  requiredIndexes: string[];
  /** Fastify's trustProxy: false, true (any), a hop count, or addresses/CIDRs of trusted proxies. */
  trustProxy: boolean | number | string[];
  rateLimitMax: number;
  rateLimitWindowMs: number;
  requestTimeoutMs: number;
  maxN: number;
  maxSearchK: number;
  maxBatch: number;
  bodyLimit: number;
  deadlineMs: number;
  queueSize: number;
  inlineMaxWork: number;
  pollIntervalMs: number;
  debounceMs: number;
  loadTimeoutMs: number;
  shutdownGraceMs: number;
  shutdownDelayMs: number;
  demo: boolean;
  docs: boolean;
}

type Kind = 'int' | 'string' | 'bool' | 'secret' | 'secrets' | 'level' | 'origins' | 'proxies' | 'names';

/** One row of the settings table: the README table and `--help` are printed from these rows. */
export interface SettingSpec {
  key: keyof ServiceConfig;
  flag: string;
  env: string;
  kind: Kind;
  /** Shown in docs; the real default comes from `defaults()`. */
  defaultText: string;
  min?: number;
  max?: number;
  description: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const SETTINGS: readonly SettingSpec[] = [
  { key: 'indexDir', flag: '--index-dir', env: 'NNSERVE_INDEX_DIR', kind: 'string', defaultText: './indexes', description: 'Directory holding `<name>.ann` + `<name>.json` (+ the ids file the manifest names, if any: `<name>.ids` as `nnserve build` writes it); watched for new and replaced files.' },
  { key: 'port', flag: '--port', env: 'PORT', kind: 'int', min: 0, max: 65535, defaultText: '8080', description: 'TCP port to listen on (0 = any free port).' },
  { key: 'host', flag: '--host', env: 'HOST', kind: 'string', defaultText: '0.0.0.0', description: 'Address to bind.' },
  { key: 'workers', flag: '--workers', env: 'NNSERVE_WORKERS', kind: 'int', min: 1, max: 256, defaultText: 'number of CPUs', description: 'Query worker threads (Piscina pool size). Index memory is shared, so more workers do not add index copies. The default follows a container\'s CPU limit when there is one (cgroup CPU quota, rounded up), not the host\'s CPU count.' },
  { key: 'logLevel', flag: '--log-level', env: 'NNSERVE_LOG_LEVEL', kind: 'level', defaultText: 'info', description: `pino log level (${LOG_LEVELS.join(', ')}).` },
  { key: 'accessLog', flag: '--access-log', env: 'NNSERVE_ACCESS_LOG', kind: 'bool', defaultText: 'true', description: 'One `info` log line per request (id, client address, method, route, status, time). Bodies and vectors are never logged.' },
  { key: 'adminToken', flag: '--admin-token', env: 'NNSERVE_ADMIN_TOKEN', kind: 'secret', defaultText: 'unset', description: 'Enables `POST /v1/admin/reload` with `Authorization: Bearer <token>`; when unset the route answers 404. Prefer the environment variable (from a Secret): a flag\'s value shows in the process list.' },
  { key: 'apiKey', flag: '--api-key', env: 'NNSERVE_API_KEY', kind: 'secret', defaultText: 'unset', description: 'When set, every `/v1/indexes…` request needs `Authorization: Bearer <key>` or `x-api-key: <key>` (401 otherwise). Health, metrics and docs stay open. Set but empty is refused at start-up (it would otherwise mean no authentication). Prefer the environment variable: a flag\'s value shows in the process list.' },
  { key: 'apiKeys', flag: '--api-keys', env: 'NNSERVE_API_KEYS', kind: 'secrets', defaultText: 'unset', description: 'Comma-separated API keys, each accepted like `NNSERVE_API_KEY` (several clients, or rotation without downtime). Both settings may be used together; as for the key, prefer the environment variable.' },
  { key: 'corsOrigins', flag: '--cors-origins', env: 'NNSERVE_CORS_ORIGINS', kind: 'origins', defaultText: 'unset', description: 'Comma-separated origins (e.g. `https://shop.example.com`) whose web pages may call the API from a browser (CORS); `*` allows any origin. Unset: no CORS headers, so browsers refuse cross-origin calls.' },
  { key: 'trustProxy', flag: '--trust-proxy', env: 'NNSERVE_TRUST_PROXY', kind: 'proxies', defaultText: 'false', description: 'Which proxies may name the client in `X-Forwarded-For` (and `X-Forwarded-Proto`/`-Host`): `false`, `true` (any sender: only when nothing but the proxy can reach the service, or clients pick their own address and escape the rate limit), a hop count, or comma-separated addresses and CIDRs (`loopback`, `uniquelocal`, `10.0.0.0/8`, …). Behind an ingress this makes the rate limit and the access log see clients, not the ingress.' },
  { key: 'rateLimitMax', flag: '--rate-limit-max', env: 'NNSERVE_RATE_LIMIT_MAX', kind: 'int', min: 0, max: 1_000_000_000, defaultText: '0', description: 'Requests one client address may make to `/v1/…` routes per window; above it 429 with `Retry-After`. 0 = no rate limiting.' },
  { key: 'rateLimitWindowMs', flag: '--rate-limit-window-ms', env: 'NNSERVE_RATE_LIMIT_WINDOW_MS', kind: 'int', min: 1, max: 86_400_000, defaultText: '60000', description: 'Length of the rate-limit window in ms.' },
  { key: 'requestTimeoutMs', flag: '--request-timeout-ms', env: 'NNSERVE_REQUEST_TIMEOUT_MS', kind: 'int', min: 0, max: 3_600_000, defaultText: '30000', description: 'Time a client has to send a whole request (headers and body); slower ones get 408 and are disconnected. 0 = no limit.' },
  { key: 'maxN', flag: '--max-n', env: 'NNSERVE_MAX_N', kind: 'int', min: 1, max: 1_000_000, defaultText: '1000', description: 'Largest `n` a query may ask for.' },
  { key: 'maxSearchK', flag: '--max-search-k', env: 'NNSERVE_MAX_SEARCH_K', kind: 'int', min: 1, max: 2 ** 31 - 1, defaultText: '1000000', description: 'Largest explicit `search_k` (`-1`, the default n × trees, is always allowed).' },
  { key: 'maxBatch', flag: '--max-batch', env: 'NNSERVE_MAX_BATCH', kind: 'int', min: 1, max: 100_000, defaultText: '256', description: 'Most queries in one `search/batch` request.' },
  { key: 'bodyLimit', flag: '--body-limit', env: 'NNSERVE_BODY_LIMIT', kind: 'int', min: 1024, max: 1024 ** 3, defaultText: '4194304', description: 'Largest request body in bytes (413 above).' },
  { key: 'deadlineMs', flag: '--deadline-ms', env: 'NNSERVE_DEADLINE_MS', kind: 'int', min: 1, max: 3_600_000, defaultText: '5000', description: 'Per-request query deadline in ms, queue wait included (504 when exceeded).' },
  { key: 'queueSize', flag: '--queue-size', env: 'NNSERVE_QUEUE_SIZE', kind: 'int', min: 0, max: 1_000_000, defaultText: '1024', description: 'Query tasks allowed to wait for a worker; beyond it requests get 503 with `Retry-After`.' },
  { key: 'inlineMaxWork', flag: '--inline-max-work', env: 'NNSERVE_INLINE_MAX_WORK', kind: 'int', min: 0, max: 100_000_000, defaultText: '50000', description: 'Queries whose work ((search_k + one leaf) × dimensions, search_k -1 counting as n × trees; a batch counts the sum of its queries) is at most this run on the event loop (tens of µs) instead of a worker, saving the thread round trip; heavier ones always go to the pool. 0 = every query goes to the pool.' },
  { key: 'pollIntervalMs', flag: '--poll-interval-ms', env: 'NNSERVE_POLL_INTERVAL_MS', kind: 'int', min: 0, max: 3_600_000, defaultText: '2000', description: 'How often index files are stat-ed (through symlinks) to catch replacements fs.watch misses; 0 = watch events only (an index directory that is missing or cannot be read is still looked for every second).' },
  { key: 'debounceMs', flag: '--debounce-ms', env: 'NNSERVE_DEBOUNCE_MS', kind: 'int', min: 0, max: 600_000, defaultText: '300', description: 'Quiet time after a file change before the index is reloaded (lets `.ann`, `.json` and `.ids` land together).' },
  { key: 'requiredIndexes', flag: '--require-indexes', env: 'NNSERVE_REQUIRE_INDEXES', kind: 'names', defaultText: 'unset', description: 'Comma-separated index names that must be served for `/readyz` to answer 200: a pod whose required index was rejected or is missing stays out of the load balancer instead of answering 404s. Unset: ready once the initial load is over, whatever it loaded.' },
  { key: 'loadTimeoutMs', flag: '--load-timeout-ms', env: 'NNSERVE_LOAD_TIMEOUT_MS', kind: 'int', min: 0, max: 86_400_000, defaultText: '600000', description: 'Longest one index load (read and validation) may take; a load still running then is abandoned and counted as rejected, the version being served stays, and the same files are not tried again until they change (storage whose reads stall would otherwise hold up every later swap). 0 = no limit.' },
  { key: 'shutdownGraceMs', flag: '--shutdown-grace-ms', env: 'NNSERVE_SHUTDOWN_GRACE_MS', kind: 'int', min: 0, max: 3_600_000, defaultText: '10000', description: 'On SIGTERM/SIGINT, time allowed for in-flight requests to finish once the listener closes (after `--shutdown-delay-ms`) before the process exits anyway (exit code 1). Once every request is answered, the query workers get up to 2 s more to stop (a query whose caller already got its 504 may still be running); 0 suits an idle server.' },
  { key: 'shutdownDelayMs', flag: '--shutdown-delay-ms', env: 'NNSERVE_SHUTDOWN_DELAY_MS', kind: 'int', min: 0, max: 600_000, defaultText: '0', description: 'On SIGTERM/SIGINT, time `/readyz` reports 503 while still serving, so load balancers stop sending traffic first.' },
  { key: 'demo', flag: '--demo', env: 'NNSERVE_DEMO', kind: 'bool', defaultText: 'true', description: 'Create the deterministic `demo` index when the index directory holds no index at start-up.' },
  { key: 'docs', flag: '--docs', env: 'NNSERVE_DOCS', kind: 'bool', defaultText: 'true', description: 'Serve Swagger UI at `/docs` (`/openapi.json` is always served).' },
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function defaults(): ServiceConfig {
  return {
    indexDir: resolve('indexes'),
    host: '0.0.0.0',
    port: 8080,
    workers: defaultThreads(),
    logLevel: 'info',
    accessLog: true,
    adminToken: null,
    apiKey: null,
    apiKeys: [],
    corsOrigins: [],
    requiredIndexes: [],
    trustProxy: false,
    rateLimitMax: 0,
    rateLimitWindowMs: 60_000,
    requestTimeoutMs: 30_000,
    maxN: 1000,
    maxSearchK: 1_000_000,
    maxBatch: 256,
    bodyLimit: 4 * 1024 * 1024,
    deadlineMs: 5000,
    queueSize: 1024,
    inlineMaxWork: 50_000,
    pollIntervalMs: 2000,
    debounceMs: 300,
    loadTimeoutMs: 600_000,
    shutdownGraceMs: 10_000,
    shutdownDelayMs: 0,
    demo: true,
    docs: true,
  };
}

/** A boolean setting's word (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, any case), or null. */
function boolWord(raw: string): boolean | null {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return null;
}

/** `flag=value` with the boolean `raw` reads as (flipped for a `--no-` flag), or `flag=true|false`. */
function boolHint(flag: string, raw: string, flipped: boolean): string {
  const value = boolWord(raw);
  return `${flag}=${value === null ? 'true|false' : String(value !== flipped)}`;
}

/**
 * A word that is no option, said as what it most likely is. After a boolean flag it is the value
 * the user meant for it (`--docs false`): a bare boolean flag means true and takes a value after
 * `=` only, and "unknown option false" left the user to work that out.
 */
function strayArgument(argv: readonly string[], i: number): string | null {
  const word = argv[i];
  if (word.startsWith('-')) return null;
  const previous = i > 0 ? argv[i - 1] : '';
  const spec = SETTINGS.find((s) => s.kind === 'bool' && (s.flag === previous || `--no-${s.flag.slice(2)}` === previous));
  if (spec && previous === spec.flag) return `${spec.flag} takes its value after "=": write ${boolHint(spec.flag, word, false)}`;
  // What `--no-x value` meant, spelled as `--x=…`: the value's opposite (no docs = true is docs = false).
  if (spec) return `${previous} takes no value; write ${boolHint(spec.flag, word, true)} or ${previous}`;
  return `unexpected argument ${JSON.stringify(word)}: every setting is a flag (--name value or --name=value) or an environment variable`;
}

/** Comma-separated items, trimmed, empty ones dropped. */
function list(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** proxy-addr's names for address ranges, accepted beside addresses and CIDRs. */
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * The forms Fastify's trustProxy takes, checked here: a typo in an address would otherwise surface
 * only as a rate limit that still sees the ingress's address for every client.
 */
function parseTrustProxy(raw: string, source: string): boolean | number | string[] {
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^\d+$/.test(v)) return Number(v);
  const entries = list(raw);
  if (entries.length === 0) throw new ConfigError(`${source}: expected true, false, a hop count or addresses`);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address);
    const prefixOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!PROXY_RANGES.includes(entry) && (family === 0 || !prefixOk || extra !== undefined)) {
      throw new ConfigError(`${source}: ${JSON.stringify(entry)} is not an address, a CIDR (10.0.0.0/8) or one of ${PROXY_RANGES.join(', ')}`);
    }
  }
  return entries;
}

/**
 * A browser sends `Origin: scheme://host[:port]` and CORS compares it as a string, so an entry with
 * a path or a trailing slash would never match: refuse it at start-up instead of failing silently.
 */
function checkOrigin(origin: string, source: string): string {
  if (origin === '*') return origin;
  let parsed: URL | null = null;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = null;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
    throw new ConfigError(`${source}: ${JSON.stringify(origin)} is not an origin; expected scheme://host[:port] with no path, e.g. https://shop.example.com, or *`);
  }
  return origin;
}

function parseValue(spec: SettingSpec, raw: string, source: string): ServiceConfig[keyof ServiceConfig] {
  switch (spec.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${source}: expected an integer, got ${JSON.stringify(raw)}`);
      const value = Number(raw);
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        throw new ConfigError(`${source}: ${value} is outside ${spec.min}..${spec.max}`);
      }
      return value;
    }
    case 'bool': {
      const value = boolWord(raw);
      if (value !== null) return value;
      throw new ConfigError(`${source}: expected true or false, got ${JSON.stringify(raw)}`);
    }
    case 'level':
      if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw new ConfigError(`${source}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    // Set but empty is a mistake (a Kubernetes secret with an empty value, a blank line in an env
    // file), and taken as "unset" it would quietly run without the authentication it asks for.
    case 'secret':
      if (raw.trim() === '') throw new ConfigError(`${source} is set but empty; unset it to run without it`);
      return raw;
    case 'secrets':
      if (list(raw).length === 0) throw new ConfigError(`${source} is set but holds no key; unset it to run without it`);
      return list(raw);
    case 'origins':
      return list(raw).map((origin) => checkOrigin(origin, source));
    case 'proxies':
      return parseTrustProxy(raw, source);
    case 'names':
      for (const name of list(raw)) if (!INDEX_NAME.test(name)) throw new ConfigError(`${source}: ${JSON.stringify(name)} is not an index name (${INDEX_NAME_PATTERN})`);
      return list(raw);
    case 'string':
      if (raw === '') throw new ConfigError(`${source}: must not be empty`);
      return raw;
  }
}

function assign(config: ServiceConfig, spec: SettingSpec, value: ServiceConfig[keyof ServiceConfig]): void {
  (config as unknown as Record<string, unknown>)[spec.key] = value;
}

/**
 * Resolves the configuration: defaults, then environment variables, then command-line flags.
 * Throws ConfigError naming the flag or variable at fault.
 */
export function loadConfig(argv: readonly string[] = [], env: NodeJS.ProcessEnv = process.env, overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  const config = defaults();
  // Secrets set but empty in the environment are refused unless a flag sets them (flags win).
  const emptySecrets = new Map<SettingSpec, string>();
  for (const spec of SETTINGS) {
    const raw = env[spec.env];
    if (raw === undefined) continue;
    const secret = spec.kind === 'secret' || spec.kind === 'secrets';
    if (secret && list(raw).length === 0) emptySecrets.set(spec, raw);
    else if (raw !== '') assign(config, spec, parseValue(spec, raw, spec.env));
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const negated = flag.startsWith('--no-') ? `--${flag.slice(5)}` : null;
    const spec = SETTINGS.find((s) => s.flag === flag || (negated !== null && s.kind === 'bool' && s.flag === negated));
    if (!spec) throw new ConfigError(strayArgument(argv, i) ?? `unknown option ${flag}`);
    let raw: string;
    // `--no-docs=true` reads as "no docs" but would have set the value given: refuse the mix.
    if (eq > 0 && negated) throw new ConfigError(`${flag} takes no value; write ${boolHint(negated, arg.slice(eq + 1), true)} or ${flag}`);
    if (eq > 0) raw = arg.slice(eq + 1);
    else if (spec.kind === 'bool') raw = negated ? 'false' : 'true';
    else {
      if (i + 1 >= argv.length) throw new ConfigError(`${flag} needs a value`);
      raw = argv[++i];
    }
    assign(config, spec, parseValue(spec, raw, flag));
    emptySecrets.delete(spec);
  }
  // Any left were set empty and no flag replaced them: parseValue refuses them, naming the variable.
  for (const [spec, raw] of emptySecrets) parseValue(spec, raw, spec.env);
  Object.assign(config, overrides);
  config.indexDir = resolve(config.indexDir);
  return config;
}

/** `--help` text, printed from the same table as the README. */
export function helpText(): string {
  const lines = ['Usage: nnserve serve [options]', '', 'Options (each also settable by environment variable):'];
  for (const s of SETTINGS) {
    const value = s.kind === 'bool' ? `${s.flag}[=true|false]` : `${s.flag} <${s.kind === 'int' ? 'n' : 'value'}>`;
    lines.push(`  ${value.padEnd(30)} ${s.env.padEnd(28)} default ${s.defaultText}`);
  }
  return lines.join('\n');
}

/** The README settings table (Markdown). */
export function settingsTable(): string {
  const rows = ['| Flag | Environment | Default | Meaning |', '|---|---|---|---|'];
  for (const s of SETTINGS) rows.push(`| \`${s.flag}\` | \`${s.env}\` | ${s.defaultText} | ${s.description} |`);
  return rows.join('\n');
}
