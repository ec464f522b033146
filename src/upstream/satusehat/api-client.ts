import type { IncomingHttpHeaders } from 'node:http';
import type { Resource } from '@medplum/fhirtypes';
import type { Pool } from 'undici';
import { httpOutcome, readAnswer } from '../http-answer.js';
import { refreshAndRetry } from '../../sync/retry-policy.js';
import { PushStopped } from './outcomes.js';
import type { TokenCache } from './token-cache.js';

export interface ApiReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** parsed JSON, or a short excerpt of a body that was not JSON */
  body: unknown;
}

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
  ) {
    this.basePath = new URL(baseUrl).pathname.replace(/\/+$/, '');
  }

  /** `path` is relative to the FHIR base: '' for a transaction, 'Patient?identifier=…' for a search. */
  async call(orgId: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<ApiReply> {
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
    const entries = (reply.body as { entry?: Array<{ resource?: Resource }> } | undefined)?.entry ?? [];
    return entries.map((e) => e.resource).filter((r): r is T => r?.resourceType === resourceType && typeof r.id === 'string');
  }

  /** The resource SATUSEHAT holds under this id; undefined when it holds none (404, 410). */
  async read<T extends Resource>(orgId: string, resourceType: T['resourceType'], id: string): Promise<T | undefined> {
    const reply = await this.call(orgId, 'GET', `${resourceType}/${encodeURIComponent(id)}`);
    if (reply.status === 404 || reply.status === 410) return undefined;
    if (reply.status < 200 || reply.status >= 300) throw new PushStopped(httpOutcome(reply.status, reply.headers), reply.body);
    const r = reply.body as T | undefined;
    return r?.resourceType === resourceType ? r : undefined;
  }

  /** `PUT {Type}/{id}`: the platform's update (P13__020, P16__056). Any answer but a 2xx stops the push with it. */
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
        // §1: SATUSEHAT documents application/json, not application/fhir+json.
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: await readAnswer(res.body) };
  }
}
