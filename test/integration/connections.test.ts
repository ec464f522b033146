import { connect, type Socket } from 'node:net';
import t from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { startGateway } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';

// Connections are bounded: a client without a key does not keep its socket after the 401, a body
// refused before it was read does not make the client push the rest, a slow or silent client is
// dropped, and past the connection cap new sockets are refused. Real sockets, byte by byte.

const key = 'gk_connections_test_key_0123456789abcdef';
const redis = await startRedis();
const gw = await startGateway({
  redisUrl: redis.url,
  apiKeys: [{ id: 'admin', hash: hashApiKey(key), role: 'admin' }],
  server: { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 500, connectionTimeoutMs: 3_000, maxConnections: 20 },
});
t.teardown(async () => {
  await gw.close();
  await redis.stop();
});
const { hostname, port } = new URL(gw.url);

/** A raw socket, with what it received and when the server closed it (ms after opening). */
function open(): Promise<{ socket: Socket; received: () => string; closedAfter: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const began = Date.now();
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => {}); // a reset after the server gave up is what some tests want
    const closedAfter = new Promise<number>((done) => socket.once('close', () => done(Date.now() - began)));
    socket.once('connect', () => resolve({ socket, received: () => text, closedAfter }));
    socket.once('error', reject);
  });
}

t.test('a client without a key does not keep its connection after the 401', async (t) => {
  const c = await open();
  c.socket.write(`GET /v1/me HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
  const closed = await c.closedAfter;
  t.match(c.received(), /^HTTP\/1\.1 401/, '401');
  t.ok(closed < 2_500, `the server closed the idle socket after ${closed} ms (keep-alive 500 ms)`);
});

t.test('a 10 MiB body refused before it is read: answered at once, connection closed', async (t) => {
  const c = await open();
  const size = 10 * 1024 * 1024;
  c.socket.write(`POST /v1/records?source=x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n{"kind":"`);
  // The client sends only the first 64 KiB and then waits, as one whose upload is stalled by a
  // server that stopped reading.
  c.socket.write('x'.repeat(64 * 1024));
  const began = Date.now();
  const answered = await new Promise<number>((resolve) => {
    const look = () => (/\r\n\r\n/.test(c.received()) ? resolve(Date.now() - began) : setTimeout(look, 10));
    look();
  });
  t.match(c.received(), /^HTTP\/1\.1 401/, 'no key: 401');
  t.match(c.received(), /connection: close/i, 'saying the connection closes');
  t.ok(answered < 1_000, `answered after ${answered} ms, without waiting for the body`);
  const closed = await c.closedAfter;
  t.ok(closed < 3_000, `closed after ${closed} ms`);

  // with a key, too large for one record: 413, same way out
  const d = await open();
  d.socket.write(`POST /v1/records?source=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n{"kind":"`);
  const closedD = await d.closedAfter;
  t.match(d.received(), /^HTTP\/1\.1 413/, 'over the body limit: 413');
  t.match(d.received(), /request\.too-large/);
  t.ok(closedD < 3_000, `closed after ${closedD} ms`);
});

t.test('headers sent a byte at a time, or never, are cut off', async (t) => {
  const silent = await open();
  const slow = await open();
  const request = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`;
  let i = 0;
  const drip = setInterval(() => {
    if (i < request.length && !slow.socket.destroyed) slow.socket.write(request[i++]!);
  }, 50);
  const [silentClosed, slowClosed] = await Promise.all([silent.closedAfter, slow.closedAfter]);
  clearInterval(drip);
  t.ok(silentClosed < 4_500, `a socket that sends nothing is closed after ${silentClosed} ms`);
  t.ok(slowClosed < 4_500, `headers dripped a byte per 50 ms are cut off after ${slowClosed} ms`);
  t.ok(i < request.length, `only ${i} of ${request.length} bytes were taken`);
});

t.test('past the connection cap, new sockets are refused and the cap frees again', async (t) => {
  const held = await Promise.all(Array.from({ length: 20 }, () => open()));
  const extra = await open();
  const extraClosed = await extra.closedAfter;
  t.ok(extraClosed < 1_000, `the 21st socket is closed at once (${extraClosed} ms)`);
  t.equal(extra.received(), '', 'without an answer');
  for (const h of held) h.socket.destroy();
  await Promise.all(held.map((h) => h.closedAfter));
  await new Promise((r) => setTimeout(r, 100));
  const res = await fetch(`${gw.url}/healthz`);
  t.equal(res.status, 200, 'once they are gone, the gateway answers again');
});
