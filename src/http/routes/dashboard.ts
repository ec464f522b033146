import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

// The dashboard is a static page (served by Gerbang, no CDN) that calls the same API with the
// same keys; the page itself holds no data, so it is public.
const assets = fileURLToPath(new URL('../dashboard/', import.meta.url));

export function dashboardRoutes(app: FastifyInstance): void {
  void app.register(fastifyStatic, { root: assets, prefix: '/dashboard/', decorateReply: false, index: ['index.html'], maxAge: '1h' });
  app.get('/dashboard', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/dashboard/'));
}
