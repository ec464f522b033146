// SATUSEHAT's shape (token endpoint, Patient and Practitioner by NIK, searches, transactions at the
// FHIR base) answering at once, as its own process like fast-upstream.ts: what is measured is
// Gerbang's own cost on the SATUSEHAT path. GET /_stats answers its counts, POST /_reset zeroes the
// transactions' (the look-ups and tokens count from the start).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const port = Number(process.argv[2] ?? 0);
let transactions = 0;
let bytes = 0;
let firstAt = 0;
let lastAt = 0;
let lookups = 0;
let tokens = 0;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const body = await readBody(req);
  if (url.pathname === '/_stats') return send(res, 200, { received: transactions, bytes, firstAt, lastAt, lookups, tokens });
  if (url.pathname === '/_reset') {
    transactions = bytes = firstAt = lastAt = 0;
    return send(res, 200, {});
  }
  if (req.method === 'POST' && url.pathname === '/oauth2/v1/accesstoken') {
    tokens += 1;
    return send(res, 200, { access_token: `token-${tokens}`, token_type: 'BearerToken', expires_in: '3599', organization_name: 'bench', developer_email: 'bench@example.org' });
  }
  if (req.method === 'POST' && url.pathname === '/fhir-r4/v1') {
    const now = Date.now();
    if (transactions === 0) firstAt = now;
    lastAt = now;
    transactions += 1;
    bytes += Buffer.byteLength(body);
    const bundle = JSON.parse(body) as { entry?: Array<{ resource: { resourceType: string } }> };
    const entry = (bundle.entry ?? []).map((e, i) => ({ response: { status: '201 Created', location: `${e.resource.resourceType}/id-${transactions}-${i}/_history/1` } }));
    return send(res, 200, { resourceType: 'Bundle', type: 'transaction-response', entry });
  }
  if (req.method === 'GET') {
    lookups += 1;
    const type = url.pathname.split('/').pop() ?? '';
    const value = (url.searchParams.get('identifier') ?? '').split('|')[1] ?? '';
    const id = createHash('sha256').update(value).digest('hex').slice(0, 12);
    const found = type === 'Patient' ? [{ resourceType: 'Patient', id: `P${id}`, active: true }] : type === 'Practitioner' ? [{ resourceType: 'Practitioner', id: `N${id}` }] : [];
    return send(res, 200, { resourceType: 'Bundle', type: 'searchset', total: found.length, entry: found.map((resource) => ({ resource })) });
  }
  send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
