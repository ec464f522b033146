import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseConfig } from '../../config/types.js';

// A transaction left open by a process that hangs holds its row locks (a person's queue, a state
// row) from every other process: PostgreSQL ends such a session after a minute.
const IDLE_IN_TRANSACTION_MS = 60_000;

/**
 * The pool of one process's connections to the ledger's PostgreSQL, with the configured bounds.
 * Beside the server's statement_timeout, each query has a client-side timeout a little longer, so
 * that a server that stops answering without closing the connection (a cut network) fails the call
 * instead of holding it forever.
 */
export function createPool(url: string, settings: Omit<DatabaseConfig, 'url'>, logger: Logger, name = 'gerbang'): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: settings.maxConnections,
    connectionTimeoutMillis: settings.connectionTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    // 0: no bound (the migrations' own connection)
    ...(settings.statementTimeoutMs > 0 ? { statement_timeout: settings.statementTimeoutMs, query_timeout: settings.statementTimeoutMs + settings.connectionTimeoutMs } : {}),
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    application_name: name,
    keepAlive: true,
  });
  // An idle connection the server closes (a restart, an admin's terminate) is an event on the
  // pool; unheard, it would end the process. The pool makes a new one at the next call.
  pool.on('error', (err) => logger.warn({ err }, 'postgres: an idle connection was closed'));
  return pool;
}

/** Waits for the server to answer, for `withinMs`; without it every call would fail from the start. */
export async function untilAnswers(pool: pg.Pool, host: string, withinMs = 15_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await pool.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL at ${host} did not answer within ${withinMs / 1000} s: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** host:port of a connection URL, for logs and errors: never its user or password. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host || '(socket)';
  } catch {
    return '(unparsable URL)';
  }
}
