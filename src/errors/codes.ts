// Every code a client or an operator can see, in one place: the answers (HTTP status and FHIR issue
// type), the issues inside them, and the codes a push to an upstream ends with. docs/errors.md
// documents the same codes; test/unit/error-codes.test.ts keeps the two in step both ways.

/** The answer an error is: its HTTP status and the FHIR OperationOutcome issue type. */
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
 * Issues inside an answer (one per problem, each naming where), with their FHIR issue type
 * (http://hl7.org/fhir/R4/valueset-issue-type.html). The words are in mappings/messages.json.
 */
export const issueCodes = {
  'adapter.date-needs-time-zone': { issueType: 'invalid' },
  'adapter.diastolic-missing': { issueType: 'invalid' },
  'adapter.file-kept': { issueType: 'informational' },
  'adapter.file-refused': { issueType: 'invalid' },
  'adapter.nik-lost-digits': { issueType: 'invalid' },
  'adapter.no-record': { issueType: 'invalid' },
  'adapter.not-a-date': { issueType: 'invalid' },
  'adapter.not-a-month': { issueType: 'invalid' },
  'adapter.not-a-nik': { issueType: 'invalid' },
  'adapter.not-a-number': { issueType: 'invalid' },
  'adapter.not-a-record-value': { issueType: 'invalid' },
  'adapter.not-json-list': { issueType: 'invalid' },
  'adapter.not-json-text': { issueType: 'invalid' },
  'adapter.not-a-whole-number': { issueType: 'invalid' },
  'adapter.not-blood-pressure': { issueType: 'invalid' },
  'adapter.not-yes-or-no': { issueType: 'invalid' },
  'adapter.record-incomplete': { issueType: 'invalid' },
  'adapter.unknown-value': { issueType: 'invalid' },
  'anc.edd-before-lmp': { issueType: 'invalid' },
  'anc.lmp-after-visit': { issueType: 'invalid' },
  'anc.subject-not-female': { issueType: 'invalid' },
  'anc.too-long': { issueType: 'invalid' },
  'auth.scope-unknown': { issueType: 'invalid' },
  'auth.too-many-failures': { issueType: 'throttled' },
  'batch.all-in-future': { issueType: 'invalid' },
  'batch.declared-too-large': { issueType: 'invalid' },
  'batch.device-clock': { issueType: 'invalid' },
  'batch.not-a-list': { issueType: 'invalid' },
  'batch.over-record-budget': { issueType: 'throttled' },
  'batch.request-too-large': { issueType: 'invalid' },
  'batch.too-many': { issueType: 'invalid' },
  'date.before-birth': { issueType: 'value' },
  'date.clock-ahead': { issueType: 'value' },
  'date.future': { issueType: 'value' },
  'field.anyof': { issueType: 'value' },
  'field.depends': { issueType: 'required' },
  'field.enum': { issueType: 'value' },
  'field.format': { issueType: 'value' },
  'field.format.date': { issueType: 'value' },
  'field.format.gerbang-datetime': { issueType: 'value' },
  'field.format.gerbang-instant': { issueType: 'value' },
  'field.impossible-date': { issueType: 'value' },
  'field.pattern': { issueType: 'value' },
  'field.range': { issueType: 'value' },
  'field.required': { issueType: 'required' },
  'field.too-long': { issueType: 'value' },
  'field.too-short': { issueType: 'value' },
  'field.type': { issueType: 'structure' },
  'field.unknown': { issueType: 'structure' },
  'growth.no-reference': { issueType: 'invalid' },
  'kind.unknown': { issueType: 'code-invalid' },
  'map.history-not-consulted': { issueType: 'informational' },
  'mapping.profile': { issueType: 'invariant' },
  'mapping.satusehat-rule': { issueType: 'invariant' },
  'measurement.none': { issueType: 'required' },
  'nik.birth-date': { issueType: 'value' },
  'nik.disagrees-birth-date': { issueType: 'business-rule' },
  'nik.disagrees-sex': { issueType: 'business-rule' },
  'nik.not-16-digits': { issueType: 'value' },
  'nik.province': { issueType: 'value' },
  'nik.region': { issueType: 'value' },
  'nik.same-as-mother': { issueType: 'value' },
  'nik.serial': { issueType: 'value' },
  'posyandu.unknown': { issueType: 'not-found' },
  'record.history-outside-scope': { issueType: 'informational' },
  'record.id-out-of-scope': { issueType: 'forbidden' },
  'record.not-object': { issueType: 'structure' },
  'subject.needs-identity': { issueType: 'required' },
  'vaccine.dose-from-age': { issueType: 'invalid' },
  'vaccine.dose-from-history': { issueType: 'invalid' },
  'vaccine.dose-from-schedule': { issueType: 'invalid' },
  'vaccine.dose-missing': { issueType: 'invalid' },
  'vaccine.dose-too-high': { issueType: 'invalid' },
  'vaccine.expired': { issueType: 'invalid' },
  'vaccine.lot-missing': { issueType: 'invalid' },
  'vaccine.not-a-vaccine': { issueType: 'invalid' },
  'vaccine.performer-without-nik': { issueType: 'invalid' },
  'vaccine.several': { issueType: 'invalid' },
  'vaccine.unknown': { issueType: 'invalid' },
  'value.bp-swapped': { issueType: 'value' },
  'value.g-per-l-as-g-per-dl': { issueType: 'value' },
  'value.grams-as-kg': { issueType: 'value' },
  'value.implausible': { issueType: 'value' },
  'value.kg-as-grams': { issueType: 'value' },
  'value.m-as-cm': { issueType: 'value' },
  'value.mm-as-cm': { issueType: 'value' },
  'value.mmol-as-mg': { issueType: 'value' },
  'value.umol-as-mg': { issueType: 'value' },
  'visit.end-not-after-start': { issueType: 'invalid' },
  'visit.outside': { issueType: 'invalid' },
  'vitamin-a.red-not-coded': { issueType: 'invalid' },
} as const satisfies Record<string, { issueType: string }>;

export type IssueCode = keyof typeof issueCodes;

/** The FHIR issue type of an answer's code or an issue's code; `invalid` for one in neither table. */
export function issueTypeOf(key: string): string {
  if (Object.hasOwn(errorCodes, key)) return errorCodes[key as ErrorCode].issueType;
  if (Object.hasOwn(issueCodes, key)) return issueCodes[key as IssueCode].issueType;
  return 'invalid';
}

/**
 * `transient`: tried again on the backoff schedule (and counted against the upstream's circuit when
 * the upstream itself failed); `permanent`: the record waits for a person.
 */
export type DeliveryCategory = 'transient' | 'permanent';

/**
 * How the failures list (GET /v1/sync/failures) groups a record: refused by the upstream for its
 * content, given up by Gerbang, waiting for a person to be known upstream, or anything else. Its
 * words are `reason.<group>` in mappings/messages.json unless the code has its own (`reason.<code>`).
 */
export type FailureGroup = 'rejected' | 'gave-up' | 'identity' | 'other';

interface DeliveryCode {
  category: DeliveryCategory;
  group: FailureGroup;
  /** words of its own (`reason.<code>`); otherwise the group's words are shown */
  ownWords?: true;
}

/**
 * Codes a push to an upstream can end with (a record's `lastError.code` at that upstream). The
 * retry policy (sync/retry-policy.ts) decides from the push's outcome; this table says what each
 * code it leaves means. Codes made of a part the push reports are families, below.
 */
export const deliveryCodes = {
  'upstream.bad-answer': { category: 'transient', group: 'other', ownWords: true },
  'upstream.timeout': { category: 'transient', group: 'other', ownWords: true },
  'upstream.answer-too-large': { category: 'transient', group: 'other', ownWords: true },
  'upstream.connect-timeout': { category: 'transient', group: 'other' },
  'upstream.headers-timeout': { category: 'transient', group: 'other' },
  'upstream.body-timeout': { category: 'transient', group: 'other' },
  'upstream.socket': { category: 'transient', group: 'other' },
  'upstream.network': { category: 'transient', group: 'other' },
  'upstream.identity-unknown': { category: 'transient', group: 'identity' },
  'delivery.attempts-exhausted': { category: 'permanent', group: 'gave-up' },
  'delivery.too-old': { category: 'permanent', group: 'gave-up' },
  'delivery.worker-crashed': { category: 'permanent', group: 'gave-up', ownWords: true },
  'delivery.job-failed': { category: 'permanent', group: 'gave-up' },
  'delivery.superseded': { category: 'transient', group: 'gave-up' },
  'satusehat.no-organization': { category: 'permanent', group: 'other' },
  'satusehat.no-credentials': { category: 'permanent', group: 'other', ownWords: true },
  'satusehat.no-practitioner': { category: 'permanent', group: 'other', ownWords: true },
  'satusehat.token-rejected': { category: 'transient', group: 'other' },
  'satusehat.token-unreachable': { category: 'transient', group: 'other' },
  'satusehat.token-malformed': { category: 'transient', group: 'other' },
  'satusehat.token-penalty': { category: 'transient', group: 'other' },
  'satusehat.token-busy': { category: 'transient', group: 'other' },
  'payload.key-missing': { category: 'transient', group: 'other', ownWords: true },
  'payload.tampered': { category: 'permanent', group: 'other', ownWords: true },
} as const satisfies Record<string, DeliveryCode>;

export type DeliveryCodeName = keyof typeof deliveryCodes;

/**
 * Families of delivery codes, written as docs/errors.md writes them. `upstream.http-4xx` stands for
 * `upstream.http-400` … `upstream.http-499` (408 and 429 are tried again), `upstream.<error>` for a
 * network or file error the system names (`upstream.econnreset`, `upstream.fs-enospc`).
 */
export const deliveryCodeFamilies = {
  'upstream.http-4xx': { category: 'permanent', group: 'rejected' },
  'upstream.http-5xx': { category: 'transient', group: 'other' },
  'upstream.<error>': { category: 'transient', group: 'other' },
} as const satisfies Record<string, DeliveryCode>;

/** The code of an upstream's HTTP answer. */
export function httpDeliveryCode(status: number): string {
  return `upstream.http-${status}`;
}

/** The code of a call that did not get an answer (a network code from upstream/http-answer.ts, or the outbox's file error). */
export function networkDeliveryCode(code: string): string {
  return `upstream.${code}`;
}

/** What a delivery code means: its own entry, else its family's; undefined for a code Gerbang never writes. */
export function deliveryCodeInfo(code: string): DeliveryCode | undefined {
  if (Object.hasOwn(deliveryCodes, code)) return deliveryCodes[code as DeliveryCodeName];
  const http = /^upstream\.http-([1-5])\d\d$/.exec(code);
  if (http) return http[1] === '4' ? deliveryCodeFamilies['upstream.http-4xx'] : http[1] === '5' ? deliveryCodeFamilies['upstream.http-5xx'] : undefined;
  if (/^upstream\.[a-z0-9-]+$/.test(code)) return deliveryCodeFamilies['upstream.<error>'];
  return undefined;
}
