import type { IncomingHttpHeaders } from 'node:http';
import type { Bundle } from '@medplum/fhirtypes';
import { errors as undiciErrors } from 'undici';
import type { PushOutcome } from './upstream.js';

// Reading what an upstream answered, the same way for every HTTP upstream kind. No upstream is
// trusted to end its answer: every call has a deadline for the whole exchange and a size cap.

export interface AnswerLimits {
  /** the whole call, from sending to the answer's last byte (timeouts.totalMs) */
  totalMs: number;
  /** an answer longer than this is not read further (maxAnswerBytes) */
  maxAnswerBytes: number;
}

/** The answer went past maxAnswerBytes; what was read is dropped and the connection closed. */
export class AnswerTooLarge extends Error {
  override readonly name = 'AnswerTooLarge';
  readonly code = 'GERBANG_ANSWER_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`the answer is longer than ${limit} bytes`);
  }
}

/** Request options that end the call at the deadline, wherever it is (connecting, waiting, reading). */
export function deadline(limits: Pick<AnswerLimits, 'totalMs'>): { signal: AbortSignal } {
  return { signal: AbortSignal.timeout(limits.totalMs) };
}

/** An answer's body as text, never more than `maxBytes` of it in memory: past that, AnswerTooLarge. */
export async function readText(body: AsyncIterable<Buffer | Uint8Array>, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving the loop by a throw destroys the stream, and with it the connection.
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) throw new AnswerTooLarge(maxBytes);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The answer's body: parsed JSON, or the first 2,000 characters of whatever else it was. */
export async function readAnswer(body: AsyncIterable<Buffer>, maxBytes: number): Promise<unknown> {
  const text = await readText(body, maxBytes);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text.slice(0, 2000);
  }
}

export function httpOutcome(status: number, headers: IncomingHttpHeaders): PushOutcome {
  const retryAfter = headers['retry-after'];
  const value = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  return { kind: 'http', status, ...(typeof value === 'string' ? { retryAfter: value } : {}) };
}

/**
 * Why a 2xx to a transaction is not the transaction-response FHIR R4 prescribes (3.1.0.11.4: a
 * Bundle of type transaction-response, one entry per entry sent, in order, each with a 2xx
 * status), or undefined when it is one. Such an answer (a proxy's HTML page, a half-written
 * body) says nothing about what was written, so the push is tried again, never called synced.
 */
export function transactionAnswerProblem(sent: Bundle, answer: unknown): string | undefined {
  // The words name only what FHIR defines: the answer's own text could quote anything (a NIK).
  if (!answer || typeof answer !== 'object' || Array.isArray(answer)) return 'the upstream answered a transaction with a 2xx that is not JSON';
  const b = answer as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (b.resourceType !== 'Bundle' || b.type !== 'transaction-response') {
    return `the upstream answered a transaction with a 2xx that is not a transaction-response Bundle (resourceType ${token(b.resourceType)}, type ${token(b.type)})`;
  }
  const expected = sent.entry?.length ?? 0;
  const entries = Array.isArray(b.entry) ? (b.entry as Array<{ response?: { status?: unknown } } | null>) : [];
  if (entries.length !== expected) return `the transaction-response has ${entries.length} entries for the ${expected} sent`;
  const bad = entries.findIndex((e) => typeof e?.response?.status !== 'string' || !/^2\d\d(\s|$)/.test(e.response.status));
  if (bad >= 0) return `entry ${bad} of the transaction-response has no 2xx status (${token(entries[bad]?.response?.status)})`;
  return undefined;
}

/** A FHIR code or status line as it was, or `other` when it is not one. */
function token(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9 -]{1,40}$/.test(value) ? value : value === undefined ? 'none' : 'other';
}

/** The outcome of a 2xx that cannot be used: transient, and counted against the upstream's health. */
export function badAnswer(detail: string): PushOutcome {
  return { kind: 'network', code: 'bad-answer', detail };
}

export function networkCode(err: unknown): string {
  if (err instanceof AnswerTooLarge) return 'answer-too-large';
  if (isDeadline(err)) return 'timeout';
  if (err instanceof undiciErrors.ConnectTimeoutError) return 'connect-timeout';
  if (err instanceof undiciErrors.HeadersTimeoutError) return 'headers-timeout';
  if (err instanceof undiciErrors.BodyTimeoutError) return 'body-timeout';
  if (err instanceof undiciErrors.SocketError) return 'socket';
  const code = (err as { code?: unknown }).code;
  // EAI_AGAIN → eai-again: a delivery code is lower case with hyphens (errors/codes.ts)
  return typeof code === 'string' ? code.toLowerCase().replace(/_/g, '-') : 'network';
}

/** The outcome of a call that threw on its way (network, deadline, size), with words for a person. */
export function transportOutcome(err: unknown, limits: AnswerLimits): PushOutcome {
  const code = networkCode(err);
  if (code === 'timeout') return { kind: 'network', code, detail: `the upstream did not finish answering within timeouts.totalMs (${limits.totalMs} ms)` };
  if (code === 'answer-too-large') return { kind: 'network', code, detail: `the upstream's answer is longer than maxAnswerBytes (${limits.maxAnswerBytes} bytes)` };
  return { kind: 'network', code };
}

/**
 * undici's errors, the socket's system errors (EAI_AGAIN, a name server that did not answer, among
 * them), the deadline and the size cap. Anything else, Node's own ERR_* included, is a bug and is
 * not hidden as a retry.
 */
export function isTransportError(err: unknown): boolean {
  if (err instanceof AnswerTooLarge || isDeadline(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('UND_ERR') || (/^E[A-Z]+(_[A-Z]+)*$/.test(code) && !code.startsWith('ERR_')));
}

// AbortSignal.timeout rejects with a TimeoutError; undici reports an abort while the body is read
// as a RequestAbortedError. Gerbang aborts a call only at its deadline.
function isDeadline(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError' || err instanceof undiciErrors.RequestAbortedError;
}
