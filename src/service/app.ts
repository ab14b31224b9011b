import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Ajv, type Options as AjvOptions } from 'ajv';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import admin from '../../routes/admin.js';
import { MAX_PATH_SEGMENT, sharedSchemas } from '../../routes/schemas.js';
import health from '../../routes/health.js';
import indexes from '../../routes/indexes.js';
import items from '../../routes/items.js';
import metrics from '../../routes/metrics.js';
import search from '../../routes/search.js';
import type { ServiceConfig } from './config.js';
import { errorBody, MALFORMED_URL, ServiceError } from './errors.js';
import auth from './plugins/auth.js';
import core from './plugins/core.js';
import crossOrigin from './plugins/cors.js';
import observability from './plugins/observability.js';
import openapi from './plugins/openapi.js';
import rateLimit from './plugins/rate-limit.js';
import { stdoutLogger } from './log-destination.js';
import { answerRaw, clientErrorAnswer, UNKNOWN_METHOD, type RawAnswerContext } from './raw-answers.js';
import { answerRefusedUrl } from './refused-url.js';
import { lazyRequestLogger } from './request-logger.js';
import securityHeaders from './plugins/security-headers.js';
import strictQuery from './plugins/strict-query.js';
import identityBodies from './plugins/identity-bodies.js';
import jsonBodies from './plugins/json-bodies.js';
import type { IndexLoad } from './registry/watcher.js';
import { validationMessage, type SchemaError } from './validation-message.js';

export interface AppOptions {
  config: ServiceConfig;
  /** A pino logger or Fastify logger options; defaults to JSON logs at config.logLevel. */
  logger?: FastifyServerOptions['loggerInstance'];
  /** Test hook: replaces the loader worker. */
  load?: IndexLoad;
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
  // verbose: errors carry the data and schema they judged, which validationMessage reads.
  const common: AjvOptions = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false, verbose: true };
  return { body: new Ajv({ ...common, coerceTypes: false }), text: new Ajv({ ...common, coerceTypes: 'array' }) };
}

function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

/** Errors the router raises before any route (or error handler) is involved. */
function frameworkError(err: FastifyError): { status: number; message: string } {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return { status: 414, message: `a path segment is longer than ${MAX_PATH_SEGMENT} characters` };
  // A URL that does not even decode is not echoed back (the 404 handler echoes decodable ones).
  return { status: 400, message: MALFORMED_URL };
}

/** Builds the service: plugins for the shared parts, one plugin per resource, one error shape. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    loggerInstance: options.logger ?? stdoutLogger(config.logLevel),
    bodyLimit: config.bodyLimit,
    // request.ip (rate limit keys) comes from X-Forwarded-For only through the proxies trusted here.
    // A hop count becomes proxy-addr's trust function (Fastify's types leave out the number form).
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    genReqId: requestId,
    requestIdHeader: false,
    // The access log is ours (observability plugin): one line, no headers or bodies.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyRequestLogger,
    // Refused by the core plugin instead, as every other answer (see there).
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PATH_SEGMENT },
    // A client must deliver its whole request in time (slow-body and slowloris defence); Node checks
    // open requests every connectionsCheckingInterval, so that is kept well below the timeout.
    requestTimeout: config.requestTimeoutMs,
    // Node applies a request timeout to bodies only when given at construction, not when set later.
    // 0 must switch off its 60 s headers timeout too, or that still answers 408 ("within 0 ms").
    http:
      config.requestTimeoutMs > 0
        ? { requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.requestTimeoutMs / 4))) }
        : { requestTimeout: 0, headersTimeout: 0 },
    // Malformed HTTP, oversized headers and request timeouts: Node reports them below any route.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      // A reset connection has nobody left to answer.
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const { status, message } = clientErrorAnswer(err.code, config.requestTimeoutMs);
      answerRaw(rawContext(), socket, status, message, UNKNOWN_METHOD, status === 408 ? config.requestTimeoutMs : 0);
    },
    frameworkErrors: (err, request, reply) => {
      const { status, message } = frameworkError(err);
      return answerRefusedUrl(app, config.accessLog, request as unknown as FastifyRequest, reply as unknown as FastifyReply, status, errorBody(status, message));
    },
  }) as unknown as FastifyInstance;
  // Read when an answer is written, by then the core plugin has decorated the app.
  const rawContext = (): RawAnswerContext => ({ metrics: app.nn.metrics, log: config.accessLog ? app.log : null });

  // Node closes CONNECT (proxy tunnel) requests without a word when nobody listens; answer them like
  // any other unsupported method instead.
  app.server.on('connect', (_req: IncomingMessage, socket: Socket) => answerRaw(rawContext(), socket, 405, 'CONNECT is not supported', 'CONNECT', 0));

  // Every body this API takes is JSON: without this, a text/plain body would reach the schema as a
  // string and come back as a puzzling "body must be object" instead of 415.
  app.removeContentTypeParser('text/plain');

  const ajv = validators();
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv.body : ajv.text).compile(schema));

  // Handlers first: a plugin registered with `await` captures the handlers in place at that moment.
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof ServiceError) {
      if (err.headers) reply.headers(err.headers);
      return reply.code(err.statusCode).send(errorBody(err.statusCode, err.message));
    }
    if (err.validation) return reply.code(400).send(errorBody(400, validationMessage(err.validationContext ?? 'request', err.validation as SchemaError[], err.message)));
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const given = String(request.headers['content-type'] ?? 'none').slice(0, 100);
      return reply.code(415).send(errorBody(415, `request bodies must be application/json (content-type: ${given})`));
    }
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
  await app.register(securityHeaders);
  if (config.corsOrigins.length > 0) await app.register(crossOrigin, { origins: config.corsOrigins });
  if (config.rateLimitMax > 0) await app.register(rateLimit, { max: config.rateLimitMax, windowMs: config.rateLimitWindowMs });
  const apiKeys = [...(config.apiKey ? [config.apiKey] : []), ...config.apiKeys];
  if (apiKeys.length > 0) await app.register(auth, { apiKeys });
  await app.register(openapi, { ui: config.docs });
  await app.register(strictQuery);
  await app.register(identityBodies);
  await app.register(jsonBodies);

  for (const schema of sharedSchemas) app.addSchema(schema);
  await app.register(health);
  await app.register(metrics);
  await app.register(indexes);
  await app.register(items, { config });
  await app.register(search, { config });
  if (config.adminToken) await app.register(admin, { token: config.adminToken });

  return app;
}
