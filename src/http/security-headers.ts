import type { FastifyInstance } from 'fastify';

// What a health app's answers say to the browser. The dashboard loads only its own script and
// styles (no CDN), so its policy allows nothing else; its trend bars set their height in a style
// attribute, hence style-src-attr. No page may be framed (the replay buttons must not be
// clickjacked). Swagger UI at /docs needs inline script and styles of its own, so it keeps only
// the framing rule.
const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "style-src-attr 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
const DOCS_CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'";

/** Answers of the API that may hold names, NIKs or records: never kept by a browser or a proxy. */
function mayHoldPersonalData(url: string): boolean {
  return url.startsWith('/v1/') && !url.startsWith('/v1/schemas');
}

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('x-frame-options', 'DENY');
    void reply.header('content-security-policy', path === '/docs' || path.startsWith('/docs/') ? DOCS_CSP : APP_CSP);
    if (mayHoldPersonalData(path)) void reply.header('cache-control', 'no-store');
  });
}
