import type { IncomingHttpHeaders } from 'node:http';
import type { Resource } from '@medplum/fhirtypes';
import type { Pool } from 'undici';
import { badAnswer, deadline, httpOutcome, isTransportError, readAnswer, type AnswerLimits } from '../http-answer.js';
import { PushStopped } from './outcomes.js';
import type { TokenCache } from './token-cache.js';

export interface ApiReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** parsed JSON, or a short excerpt of a body that was not JSON */
  body: unknown;
}

// A push makes several calls (look-ups, then the transaction) and fails whole when one fails. A
// look-up or a PUT changes nothing when repeated, so on a failure of the platform (a network
// error, 408, 5xx, a deadline) it is tried twice more, after about 100 and 200 ms: on a
// platform failing one request in ten, a push then fails for its transaction alone, not for any
// of its five or so calls. A 429 is not retried here: the queue pauses for it (worker.ts).
const IDEMPOTENT_TRIES = 3;
const IDEMPOTENT_BACKOFF_MS = 100;

/**
 * Calls to SATUSEHAT's FHIR API on behalf of one puskesmas. A 401 means the cached token died
 * early (revoked, or expired on the platform's clock before ours); the call is made once more with
 * a fresh token, never twice, so a client that lost its rights cannot loop on the token endpoint.
 * Network errors and TokenUnavailableError are thrown as they are; the upstream turns them into
 * outcomes.
 */
export class SatusehatApi {
  private readonly basePath: string;

  constructor(
    private readonly pool: Pool,
    baseUrl: string,
    private readonly tokens: TokenCache,
    private readonly limits: AnswerLimits,
  ) {
    this.basePath = new URL(baseUrl).pathname.replace(/\/+$/, '');
  }

  /** `path` is relative to the FHIR base: '' for a transaction, 'Patient?identifier=…' for a search. */
  async call(orgId: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<ApiReply> {
    if (method === 'POST') return this.once(orgId, method, path, body);
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= IDEMPOTENT_TRIES;
      try {
        const reply = await this.once(orgId, method, path, body);
        if (last || !platformFailed(reply.status)) return reply;
      } catch (err) {
        if (last || !isTransportError(err)) throw err;
      }
      await new Promise((r) => setTimeout(r, IDEMPOTENT_BACKOFF_MS * 2 ** (attempt - 1) * (0.75 + Math.random() / 2)));
    }
  }

  private async once(orgId: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<ApiReply> {
    const token = await this.tokens.get(orgId);
    const first = await this.send(token, method, path, body);
    if (!refreshAndRetry(first.status, false)) return first;
    await this.tokens.invalidate(orgId, token);
    return this.send(await this.tokens.get(orgId), method, path, body);
  }

  /**
   * The resources of a searchset (`params` already encoded by URLSearchParams). Any answer but a
   * 2xx stops the push with that answer: a throttled or failing lookup is as transient as a
   * throttled transaction.
   */
  async search<T extends Resource>(orgId: string, resourceType: T['resourceType'], params: Record<string, string>): Promise<T[]> {
    const reply = await this.call(orgId, 'GET', `${resourceType}?${new URLSearchParams(params).toString()}`);
    if (reply.status < 200 || reply.status >= 300) throw new PushStopped(httpOutcome(reply.status, reply.headers), reply.body);
    // A 2xx that is not a searchset would read as "nobody found": a person left waiting for an
    // identity SATUSEHAT has, or a resource created twice.
    const b = reply.body as { resourceType?: unknown; entry?: Array<{ resource?: Resource }> } | undefined;
    if (b?.resourceType !== 'Bundle' || (b.entry !== undefined && !Array.isArray(b.entry))) {
      throw new PushStopped(badAnswer(`the upstream answered a ${resourceType} search with a 2xx that is not a Bundle`), reply.body);
    }
    const entries = b.entry ?? [];
    return entries.map((e) => e.resource).filter((r): r is T => r?.resourceType === resourceType && typeof r.id === 'string');
  }

  /** The resource SATUSEHAT holds under this id; undefined when it holds none (404, 410). */
  async read<T extends Resource>(orgId: string, resourceType: T['resourceType'], id: string): Promise<T | undefined> {
    const reply = await this.call(orgId, 'GET', `${resourceType}/${encodeURIComponent(id)}`);
    if (reply.status === 404 || reply.status === 410) return undefined;
    if (reply.status < 200 || reply.status >= 300) throw new PushStopped(httpOutcome(reply.status, reply.headers), reply.body);
    const r = reply.body as T | undefined;
    if (r?.resourceType !== resourceType) throw new PushStopped(badAnswer(`the upstream answered a read of ${resourceType} with a 2xx that is not one`), reply.body);
    return r;
  }

  /** `PUT {Type}/{id}`: the platform's update, as its official Postman collections use it. Any answer but a 2xx stops the push with it. */
  async replace(orgId: string, resource: Resource & { id: string }): Promise<void> {
    const reply = await this.call(orgId, 'PUT', `${resource.resourceType}/${encodeURIComponent(resource.id)}`, resource);
    if (reply.status < 200 || reply.status >= 300) throw new PushStopped(httpOutcome(reply.status, reply.headers), reply.body);
  }

  private async send(token: string, method: 'GET' | 'POST' | 'PUT', path: string, body: unknown): Promise<ApiReply> {
    const res = await this.pool.request({
      method,
      path: path ? `${this.basePath}/${path}` : this.basePath || '/',
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        // SATUSEHAT documents application/json, not application/fhir+json.
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...deadline(this.limits),
    });
    return { status: res.statusCode, headers: res.headers, body: await readAnswer(res.body, this.limits.maxAnswerBytes) };
  }
}

/** The platform itself failed (not a judgement of the request, not a throttle): worth a second try. */
function platformFailed(status: number): boolean {
  return status === 408 || status >= 500;
}

/**
 * An upstream that authenticates with a cached token answered 401: the token may have died before
 * its time (revoked, or the platform's clock ahead of ours). Refresh once and call again; a second
 * 401 with a fresh token is the upstream's answer.
 */
function refreshAndRetry(status: number, alreadyRefreshed: boolean): boolean {
  return status === 401 && !alreadyRefreshed;
}
