// A FHIR upstream that reads each Bundle and answers at once with a transaction-response, run as
// its own process (bench/lib/children.ts starts it). It is a process of its own so that the worker
// and the raw-undici baseline reach it the same way, and neither shares its event loop or core
// with it. It counts what it received; GET /_stats answers those counts, POST /_reset zeroes them.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
let received = 0;
let bytes = 0;
let firstAt = 0;
let lastAt = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/_stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ received, bytes, firstAt, lastAt }));
    return;
  }
  if (req.method === 'POST' && req.url === '/_reset') {
    received = bytes = firstAt = lastAt = 0;
    res.end('{}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const now = Date.now();
    if (received === 0) firstAt = now;
    lastAt = now;
    received += 1;
    bytes += body.length;
    const bundle = JSON.parse(body.toString()) as { entry?: Array<{ resource: { resourceType: string } }> };
    const entry = (bundle.entry ?? []).map((e, i) => ({ response: { status: '201 Created', location: `${e.resource.resourceType}/id-${received}-${i}/_history/1` } }));
    res.setHeader('content-type', 'application/fhir+json');
    res.end(JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry }));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : port}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
