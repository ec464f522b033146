// Every error Gerbang can answer with, in one table: its HTTP status and the FHIR
// OperationOutcome issue type. docs/errors.md documents the same codes; a unit test keeps them in step.
export const errorCodes = {
  // request shape
  'request.not-json': { status: 400, issueType: 'structure' },
  'request.content-type': { status: 415, issueType: 'not-supported' },
  'request.too-large': { status: 413, issueType: 'too-long' },
  'request.invalid-parameter': { status: 400, issueType: 'invalid' },
  'request.too-deep': { status: 400, issueType: 'structure' },
  'request.reserved-key': { status: 400, issueType: 'structure' },
  'request.malformed': { status: 400, issueType: 'structure' },
  'batch.record-too-large': { status: 413, issueType: 'too-long' },
  // the record itself
  'record.invalid': { status: 422, issueType: 'invalid' },
  'record.not-found': { status: 404, issueType: 'not-found' },
  'record.place-changed': { status: 409, issueType: 'conflict' },
  'schema.not-found': { status: 404, issueType: 'not-found' },
  'route.not-found': { status: 404, issueType: 'not-found' },
  'replay.nothing': { status: 409, issueType: 'conflict' },
  'replay.not-found': { status: 404, issueType: 'not-found' },
  // who is asking
  'auth.required': { status: 401, issueType: 'login' },
  'auth.invalid-key': { status: 401, issueType: 'security' },
  'auth.forbidden': { status: 403, issueType: 'forbidden' },
  'auth.out-of-scope': { status: 403, issueType: 'forbidden' },
  'request.rate-limited': { status: 429, issueType: 'throttled' },
  'request.too-many-records': { status: 429, issueType: 'throttled' },
  // our own dependencies
  'store.unavailable': { status: 503, issueType: 'transient' },
  'store.full': { status: 503, issueType: 'transient' },
  'internal': { status: 500, issueType: 'exception' },
} as const satisfies Record<string, { status: number; issueType: string }>;

export type ErrorCode = keyof typeof errorCodes;

/**
 * Codes a push to an upstream can end with (a record's `lastError.code` at that upstream), with
 * their category: a `transient` one is tried again on the backoff schedule, and counts against the
 * upstream's circuit. docs/errors.md lists them; words for a person are `reason.<code>` in
 * mappings/messages.json.
 */
export const deliveryCodes = {
  'upstream.bad-answer': { category: 'transient' },
  'upstream.timeout': { category: 'transient' },
  'upstream.answer-too-large': { category: 'transient' },
  'payload.key-missing': { category: 'transient' },
  'payload.tampered': { category: 'permanent' },
} as const satisfies Record<string, { category: 'transient' | 'permanent' }>;
