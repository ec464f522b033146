import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import t from 'tap';
import { GerbangError } from '../../src/errors/gerbang-error.js';
import { freePort } from '../../src/runtime/private-redis.js';
import { isPostgresUnreachable, unavailableOnOutage } from '../../src/sync/pg/unreachable.js';

// Which failures of the ledger's PostgreSQL are an outage (503 store.unavailable) and which stay
// what they are. The network cases are real sockets on 127.0.0.1; the server's SQLSTATEs are
// errors as node-postgres builds them from the server's message (test/integration/ledger-store.test.ts
// gets 57P01 from a real server).

function serverError(code: string, message = 'from the server'): pg.DatabaseError {
  const err = new pg.DatabaseError(message, message.length, 'error');
  err.code = code;
  return err;
}

/** The first error a pool with these bounds gives against `port`. */
async function firstError(port: number, opts: pg.PoolConfig = {}): Promise<unknown> {
  const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'u', password: 'p', database: 'd', connectionTimeoutMillis: 300, ...opts });
  try {
    await pool.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await pool.end();
  }
}

t.test('nothing listens: ECONNREFUSED is an outage', async (t) => {
  const err = await firstError(await freePort());
  t.equal((err as { code?: string }).code, 'ECONNREFUSED');
  t.ok(isPostgresUnreachable(err));
});

t.test('a server that never answers: the connection timeout is an outage, and it comes on time', async (t) => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const began = Date.now();
  const err = await firstError(port);
  const took = Date.now() - began;
  t.match((err as Error).message, /timeout/);
  t.ok(isPostgresUnreachable(err), (err as Error).message);
  t.ok(took < 1_500, `failed after ${took} ms (bound 300 ms)`);
});

t.test('a server that closes the connection at once: an outage', async (t) => {
  const rude = createServer((s) => s.destroy());
  await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
  t.teardown(() => rude.close());
  const err = await firstError((rude.address() as { port: number }).port);
  t.ok(isPostgresUnreachable(err), (err as Error).message);
});

t.test("the server's SQLSTATEs: shutting down, starting, class 08, full, statement timeout", async (t) => {
  for (const code of ['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08P01', '53300', '57014']) t.ok(isPostgresUnreachable(serverError(code)), code);
  for (const code of ['23505', '42P01', '40001', '40P01', '22P02', '0A000', '53100', 'P0001']) t.notOk(isPostgresUnreachable(serverError(code)), `${code} is not an outage`);
});

t.test("node-postgres' own errors without a code, and wrapped ones", async (t) => {
  for (const m of ['timeout exceeded when trying to connect', 'Connection terminated unexpectedly', 'Connection terminated due to connection timeout', 'Query read timeout', 'Client has encountered a connection error and is not queryable']) {
    t.ok(isPostgresUnreachable(new Error(m)), m);
  }
  t.ok(isPostgresUnreachable(new Error('accept failed', { cause: serverError('57P01') })), 'through a cause');
  t.ok(isPostgresUnreachable(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })])), 'each address of a name tried');
  t.notOk(isPostgresUnreachable(new Error('boom')));
  t.notOk(isPostgresUnreachable(new Error('Connection terminated')), 'our own pool.end() is not an outage');
  t.notOk(isPostgresUnreachable(undefined));
  t.notOk(isPostgresUnreachable('ECONNREFUSED'));
  const loop: { cause?: unknown } = new Error('loop');
  loop.cause = loop;
  t.notOk(isPostgresUnreachable(loop), 'a cause that is itself ends');
});

t.test('a ledger behind unavailableOnOutage: outages become store.unavailable (503, Retry-After), other errors stay', async (t) => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const bug = new TypeError('x is undefined');
  const target = {
    name: 'ledger',
    down: () => Promise.reject(refused),
    downSync: (): number => {
      throw serverError('57P03');
    },
    broken: () => Promise.reject(bug),
    works: (a: number, b: number) => Promise.resolve(a + b),
    plain(this: { name: string }) {
      return this.name;
    },
  };
  const wrapped = unavailableOnOutage(target);
  const down = await wrapped.down().catch((e: unknown) => e);
  t.ok(down instanceof GerbangError);
  t.equal((down as GerbangError).code, 'store.unavailable');
  t.equal((down as GerbangError).status, 503);
  t.equal((down as GerbangError).retryAfterSeconds, 5);
  t.equal((down as GerbangError).cause, refused, 'the cause is kept for the log');
  t.throws(() => wrapped.downSync(), { code: 'store.unavailable' });
  t.equal(await wrapped.broken().catch((e: unknown) => e), bug, 'a bug is not an outage');
  t.equal(await wrapped.works(2, 3), 5);
  t.equal(wrapped.plain(), 'ledger', 'methods still see their object');
  t.equal(wrapped.name, 'ledger');
});

t.test('a class with private fields works the same behind unavailableOnOutage', async (t) => {
  class Counter {
    #n = 0;
    get n() {
      return this.#n;
    }
    async bump() {
      return ++this.#n;
    }
  }
  const wrapped = unavailableOnOutage(new Counter());
  t.equal(await wrapped.bump(), 1);
  t.equal(wrapped.n, 1, 'a getter reading a private field');
});
