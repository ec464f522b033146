import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { installErrorHandling } from './errors.js';
import { batchRoutes } from './routes/batch.js';
import { healthRoutes } from './routes/health.js';
import { mapRoutes } from './routes/map.js';
import { recordRoutes } from './routes/records.js';
import { schemaRoutes } from './routes/schemas.js';
import type { Services } from './services.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The HTTP application, without listening: the process (server.ts) and tests both build it. */
export function buildApp(services: Services, logger: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: services.config.server.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  });
  // Records are JSON; Fastify would otherwise hand a text/plain body to the routes as a string.
  app.removeContentTypeParser('text/plain');
  app.addHook('onSend', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });
  installErrorHandling(app);
  healthRoutes(app, services);
  schemaRoutes(app);
  recordRoutes(app, services);
  batchRoutes(app, services);
  mapRoutes(app, services);
  return app;
}
