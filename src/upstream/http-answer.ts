import type { IncomingHttpHeaders } from 'node:http';
import { errors as undiciErrors } from 'undici';
import type { PushOutcome } from '../sync/retry-policy.js';

// Reading what an upstream answered, the same way for every HTTP upstream kind.

// An answer is read up to 1 MiB: enough for any transaction-response or OperationOutcome, and a
// misbehaving server cannot fill our memory.
const MAX_BODY = 1024 * 1024;

/** The answer's body: parsed JSON, or the first 2,000 characters of whatever else it was. */
export async function readAnswer(body: AsyncIterable<Buffer>): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < MAX_BODY) chunks.push(chunk);
    size += chunk.length;
  }
  const text = Buffer.concat(chunks).toString('utf8');
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

export function networkCode(err: unknown): string {
  if (err instanceof undiciErrors.ConnectTimeoutError) return 'connect-timeout';
  if (err instanceof undiciErrors.HeadersTimeoutError) return 'headers-timeout';
  if (err instanceof undiciErrors.BodyTimeoutError) return 'body-timeout';
  if (err instanceof undiciErrors.SocketError) return 'socket';
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code.toLowerCase() : 'network';
}
