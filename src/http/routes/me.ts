import type { FastifyInstance } from 'fastify';
import { callerOf } from '../auth/authenticate.js';

/** Who the key is: the dashboard shows the name and offers replay only to admins. */
export function meRoutes(app: FastifyInstance): void {
  app.get('/v1/me', { config: { access: 'records:read' }, schema: { tags: ['status'], summary: "The calling key's id, role and scope" } }, async (req) => {
    const c = callerOf(req);
    return { keyId: c.keyId, role: c.role, ...(c.source ? { source: c.source } : {}), scope: c.scope.describe() };
  });
}
