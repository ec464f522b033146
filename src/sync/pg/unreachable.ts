import { storeUnavailable } from '../../errors/gerbang-error.js';

// Which errors of the PostgreSQL client mean "the ledger's server is not there right now" (a 503
// store.unavailable the app retries, as when Redis is away), as opposed to a bug or a refused
// statement. Read from the error itself, its `cause` and, for a name that resolves to several
// addresses, each attempt (AggregateError).

// The socket could not be opened or was cut.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

// SQLSTATEs of a server that is going away, starting, or full: 57P01 admin_shutdown (a fast
// shutdown or pg_terminate_backend), 57P02 crash_shutdown (another backend crashed), 57P03
// cannot_connect_now (starting up or in recovery), 53300 too_many_connections, 57014
// query_canceled (the statement_timeout: a server too slow to answer now). Class 08, connection
// exception, is matched as a class.
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

// node-postgres' own errors carry no code, only these messages (pg 8, pg-pool 3).
const CLIENT_MESSAGES = [
  'timeout exceeded when trying to connect', // the pool waited connectionTimeoutMillis for a connection
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
  'Query read timeout', // query_timeout, the client-side bound
  'Client has encountered a connection error and is not queryable',
];

export function isPostgresUnreachable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code) || SQLSTATES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code)) return true;
  }
  if (typeof e.message === 'string' && CLIENT_MESSAGES.some((m) => e.message === m)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isPostgresUnreachable(inner, depth + 1))) return true;
  return isPostgresUnreachable(e.cause, depth + 1);
}

/** The error a request answers with when the ledger's server is away: a 503 the app retries. */
function asStoreUnavailable(err: unknown): unknown {
  return isPostgresUnreachable(err) ? storeUnavailable(err) : err;
}

/**
 * `target` whose calls fail with store.unavailable when PostgreSQL is away, whichever route or
 * service made them (a status count, a search, a replay as much as an accept), instead of a 500.
 * Other errors pass unchanged: a bug stays a bug. Only network and server-state errors are turned,
 * never those of other clients the same process holds (an upstream's fetch, Redis), since those
 * never come out of the ledger's pool.
 */
export function unavailableOnOutage<T extends object>(target: T): T {
  return new Proxy(target, {
    get(obj, prop) {
      // read on the target itself: a getter or method using private fields (#x) works as unwrapped
      const value: unknown = Reflect.get(obj, prop);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (err) {
          throw asStoreUnavailable(err);
        }
        return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(asStoreUnavailable(err))) : result;
      };
    },
  });
}
