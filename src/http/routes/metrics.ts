import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';

// Counts and durations only: no record, place name or person reaches a metric label.
export function metricsRoutes(app: FastifyInstance, services: Services): void {
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
    const registry = services.metrics.registry;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
