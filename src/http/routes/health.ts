import type { FastifyInstance } from 'fastify';
import { GerbangError } from '../../errors/gerbang-error.js';
import type { Services } from '../services.js';

export function healthRoutes(app: FastifyInstance, services: Services): void {
  // Liveness: the process answers. Nothing else, so an orchestrator does not restart a gateway
  // just because Redis is away (ingest already answers 503 then).
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Readiness: Redis answers and the upstreams are known. Public, so it names the upstreams and
  // their kind, never their URLs or paths.
  app.get('/readyz', async () => {
    try {
      await services.ledger.ping();
    } catch (cause) {
      throw new GerbangError('store.unavailable', [], { cause, retryAfterSeconds: 5 });
    }
    return { status: 'ready', redis: 'ok', upstreams: services.upstreams.map((u) => ({ name: u.name, kind: u.describe().kind })) };
  });
}
