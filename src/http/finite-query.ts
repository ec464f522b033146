import type { FastifyInstance } from 'fastify';
import { GerbangError } from '../errors/gerbang-error.js';

/**
 * Ajv's type coercion turns the query strings "Infinity" and "1e400" into Infinity, calls it an
 * integer, and then skips the range checks (`?days=Infinity` reached the sync summary, which
 * tried to build an array of that length: a 500). A number in a query is never meant to be
 * infinite, so once the route's schema has coerced the query, any infinite number in it is
 * refused here like any other bad parameter, for every route at once.
 */
export function installFiniteQuery(app: FastifyInstance): void {
  app.addHook('preHandler', async (req) => {
    const query = req.query as Record<string, unknown> | null | undefined;
    if (!query || typeof query !== 'object') return;
    for (const [name, value] of Object.entries(query)) {
      const values = Array.isArray(value) ? value : [value];
      if (values.some((v) => typeof v === 'number' && !Number.isFinite(v))) {
        throw new GerbangError('request.invalid-parameter', [{ key: 'request.invalid-parameter', severity: 'error', path: name, params: { reason: 'must be a finite number' } }]);
      }
    }
  });
}
