import type pg from 'pg';

/**
 * One transaction on one connection of the pool: `begin` (BEGIN, with what is sent along with it),
 * the work, COMMIT; ROLLBACK when the work throws. A connection whose ROLLBACK failed too is not
 * handed out again. A server lost while the connection is out of the pool fails the statement under
 * way (the caller's 503) instead of ending the process through the client's error event.
 * `began`: the results of what was sent with BEGIN, the last first.
 */
export async function inTransaction<T>(pool: pg.Pool, begin: string, work: (c: pg.PoolClient, began: pg.QueryResult | undefined) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  const ignore = () => undefined;
  c.on('error', ignore);
  try {
    const began = (await c.query(begin)) as unknown as pg.QueryResult | pg.QueryResult[];
    const out = await work(c, Array.isArray(began) ? began.at(-1) : undefined);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch((e: unknown) => {
      broken = e instanceof Error ? e : new Error(String(e));
    });
    throw err;
  } finally {
    c.off('error', ignore);
    c.release(broken);
  }
}
