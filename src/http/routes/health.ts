import type { FastifyInstance } from 'fastify';
import { storeUnavailable } from '../../errors/gerbang-error.js';
import type { Services } from '../services.js';

export function healthRoutes(app: FastifyInstance, services: Services): void {
  // Liveness: the process answers. Nothing else, so an orchestrator does not restart a gateway
  // just because Redis is away (ingest already answers 503 then).
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Readiness: the stores answer (Redis, and PostgreSQL when the ledger is there) and the
  // upstreams are known. Public, so it names the stores and the upstreams and their kind, never
  // their URLs or paths. A store that does not answer within the bound is as good as away: the
  // answer comes fast either way.
  const stores = services.readiness ?? [{ name: 'redis', ping: () => services.ledger.ping() }];
  app.get('/readyz', async () => {
    // asked at once: two stores away answer as fast as one
    const results = await Promise.allSettled(stores.map((store) => withinMs(store.ping(), READINESS_MS)));
    const away = results.find((r) => r.status === 'rejected');
    if (away) throw storeUnavailable(away.reason);
    const answered = Object.fromEntries(stores.map((store) => [store.name, 'ok']));
    return { status: 'ready', ...answered, upstreams: services.upstreams.map((u) => ({ name: u.name, kind: u.describe().kind })) };
  });
}

// An orchestrator's probe allows a few seconds; a store slower than this is not ready.
const READINESS_MS = 2_500;

function withinMs<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
