import { errorCodes, type ErrorCode, type IssueCode } from './codes.js';

/** One problem in a request, placed at a field. `key` names a text in mappings/messages.json. */
export interface Issue {
  key: ErrorCode | IssueCode;
  severity: 'error' | 'warning';
  /** dotted path in the inbound record, e.g. `subject.nik` (becomes FHIRPath and JSON pointer) */
  path?: string;
  /** where in the app's own record the value came from, when a source adapter read it */
  source?: string;
  params?: Record<string, unknown>;
  /** further codes naming the problem beside `key`, e.g. the SATUSEHAT rule number */
  coding?: Array<{ system: string; code: string }>;
}

export class GerbangError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly issues: Issue[];
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, issues: Issue[] = [], opts: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    // The message is the code only: issue params may carry what a client sent (NIK, names), and
    // error messages end up in logs.
    super(code, { cause: opts.cause });
    this.name = 'GerbangError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.issues = issues.length > 0 ? issues : [{ key: code, severity: 'error' }];
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

/** How soon an app may send again after the store did not answer: a restart or a failover takes seconds. */
const STORE_UNAVAILABLE_RETRY_SECONDS = 5;

/** The store (Redis, or the ledger's PostgreSQL) did not answer: nothing was done, send again shortly. */
export function storeUnavailable(cause: unknown): GerbangError {
  return new GerbangError('store.unavailable', [], { cause, retryAfterSeconds: STORE_UNAVAILABLE_RETRY_SECONDS });
}
