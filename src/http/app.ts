import { randomUUID } from 'node:crypto';
import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { GerbangError } from '../errors/gerbang-error.js';
import type { StoreKeys } from '../sync/store/keys.js';
import { AuthFailures } from './auth/auth-failures.js';
import { installAuthentication } from './auth/authenticate.js';
import { parseClientJson } from '../ingest/json-text.js';
import { installErrorHandling, malformedRequest } from './errors.js';
import { installFiniteQuery } from './finite-query.js';
import { openApiOptions, openApiTransform } from './openapi.js';
import { installSecurityHeaders } from './security-headers.js';
import { adminRoutes } from './routes/admin.js';
import { batchRoutes } from './routes/batch.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { healthRoutes } from './routes/health.js';
import { mapRoutes } from './routes/map.js';
import { meRoutes } from './routes/me.js';
import { metricsRoutes } from './routes/metrics.js';
import { recordRoutes } from './routes/records.js';
import { replayRoutes } from './routes/replay.js';
import { schemaRoutes } from './routes/schemas.js';
import { syncRoutes } from './routes/sync.js';
import type { Services } from './services.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The HTTP application, without listening: `gerbang serve` (src/roles/serve.ts) and tests both build it. */
/** `counters`: where the per-address and per-key limits count (the process's Redis and its keys, made once by compose). */
export function buildApp(services: Services, logger: Logger, counters: { redis: Redis | Cluster; keys: StoreKeys }): FastifyInstance {
  const server = services.config.server;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: server.bodyLimitBytes,
    // Every connection is bounded in time (the reasons for each value are with the defaults in
    // src/config/load.ts): a client that opens a socket and sends nothing, or sends a body forever,
    // or keeps an idle socket after its 401, gives it up, so sockets cannot pile up to the
    // descriptor limit.
    connectionTimeout: server.connectionTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    maxRequestsPerSocket: server.maxRequestsPerSocket,
    // Headers must arrive quickly (a slowloris sends them a byte at a time). Node looks for
    // overdue requests every connectionsCheckingInterval (30 s by default, which would triple a
    // 10 s headers timeout), so it looks at least twice per timeout.
    http: {
      headersTimeout: server.headersTimeoutMs,
      requestTimeout: server.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(server.headersTimeoutMs / 2))),
    },
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
    // A URL Fastify cannot decode (a broken % escape) is answered as every other client error.
    frameworkErrors: malformedRequest,
  });
  // Records are JSON; Fastify would otherwise hand a text/plain body to the routes as a string.
  app.removeContentTypeParser('text/plain');
  // Every JSON body passes the depth and reserved-key checks before a route sees it.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    try {
      done(null, parseClientJson(text as string, services.config.server.jsonMaxDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook('onSend', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });
  // Beyond maxConnections new sockets are refused at once rather than held.
  app.server.maxConnections = server.maxConnections;
  installErrorHandling(app);
  installSecurityHeaders(app);
  installFiniteQuery(app);
  installAuthentication(app, services.config, new AuthFailures(counters.redis, server.authFailuresPerMinute, counters.keys));

  // The OpenAPI document is built from the route schemas, so these two come before the routes.
  void app.register(swagger, openApiOptions());
  void app.register(swaggerUi, { routePrefix: '/docs', transformSpecification: openApiTransform });
  // Limits are per key; without keys (local use) there is nothing to count by.
  if (services.config.apiKeys.length > 0) void app.register(rateLimit, rateLimitOptions(services, counters.redis, counters.keys.rateLimit));
  void app.register(async (api) => {
    healthRoutes(api, services);
    metricsRoutes(api, services);
    schemaRoutes(api);
    recordRoutes(api, services);
    replayRoutes(api, services);
    batchRoutes(api, services);
    mapRoutes(api, services);
    syncRoutes(api, services);
    meRoutes(api);
    adminRoutes(api, services);
    dashboardRoutes(api);
  });
  return app;
}

function rateLimitOptions(services: Services, redis: Redis | Cluster, nameSpace: string): RateLimitPluginOptions {
  return {
    global: true,
    timeWindow: 60_000,
    // Per key (the caller set by the auth hook, which runs first); shared through Redis so that
    // several gateway processes count together. A Redis hiccup lets requests through.
    hook: 'preHandler',
    keyGenerator: (req) => req.caller?.keyId ?? req.ip,
    max: (req) => req.caller?.rateLimitPerMinute ?? services.config.server.rateLimitPerMinute,
    allowList: (req) => (req.routeOptions.config?.access ?? 'public') === 'public',
    redis,
    nameSpace,
    skipOnError: true,
    errorResponseBuilder: (_req, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new GerbangError('request.rate-limited', [{ key: 'request.rate-limited', severity: 'error', params: { seconds } }], { retryAfterSeconds: seconds });
    },
  };
}
