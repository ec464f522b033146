import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX } from './key-prefix.js';
import { request, type Dispatcher } from 'undici';
import { AnswerTooLarge, readText } from '../http-answer.js';
import { defineLockScripts, deleteIfHeld, RedisLock } from '../../locks/redis-lock.js';

// SATUSEHAT access tokens (OAuth2 client credentials, one client per puskesmas), shared through
// Redis by every worker process. The platform punishes a failed token request with a wait
// (the official SATUSEHAT Postman collection "Pelayanan - Rawat Jalan" says so), so at most one
// caller asks for a token at a time and nobody asks again while that wait lasts.

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface TokenCacheOptions {
  redis: Redis | Cluster;
  /** prefix of the token, lock and penalty keys ('g:' by default, redis.keyPrefix) */
  keyPrefix?: string;
  /** the auth base ({host}/oauth2/v1) or the full accesstoken URL */
  authUrl: string;
  /** per Organization id (Master Sarana Index) */
  credentials: Record<string, ClientCredentials>;
  /** an undici Pool or Agent for the token calls; the global dispatcher otherwise */
  dispatcher?: Dispatcher;
  /** a token is dropped this long before the platform says it expires */
  refreshMarginSeconds?: number;
  /** a failed token request costs a one-minute penalty (official SATUSEHAT Postman collection) */
  penaltySeconds?: number;
  /** bound on the whole token call: headers, body and in total */
  timeoutMs?: number;
  /** the longest wait a Retry-After of the token endpoint may impose (delivery.maxRetryAfterSeconds) */
  maxRetryAfterSeconds?: number;
  /** how long a caller waits for another caller's refresh before giving up */
  lockWaitMs?: number;
  pollMs?: number;
  now?: () => number;
  onRefresh?: (orgId: string) => void;
}

export type TokenFailure = 'rejected' | 'unreachable' | 'malformed' | 'penalty' | 'busy';

/** No token now; `retryAfterSeconds` says when asking again can help. Never carries a token or secret. */
export class TokenUnavailableError extends Error {
  override readonly name = 'TokenUnavailableError';
  constructor(
    readonly orgId: string,
    readonly reason: TokenFailure,
    readonly retryAfterSeconds: number,
    readonly httpStatus?: number,
  ) {
    super(`SATUSEHAT token for organization ${orgId} unavailable (${reason}${httpStatus ? ` ${httpStatus}` : ''}); retry after ${retryAfterSeconds}s`);
  }
}

export class UnknownOrganizationError extends Error {
  override readonly name = 'UnknownOrganizationError';
  constructor(readonly orgId: string) {
    super(`no SATUSEHAT credentials configured for organization ${orgId}`);
  }
}

const MAX_BODY = 64 * 1024;

// The platform being briefly unavailable (a gateway's 502/503/504) is not a refused request: the
// token call is tried again twice, after 200 and 400 ms, before it counts as failed and starts the
// penalty that stops every push of the puskesmas for a minute.
const UNAVAILABLE = new Set([502, 503, 504]);
const UNAVAILABLE_TRIES = 3;
const UNAVAILABLE_BACKOFF_MS = 200;

// How long every caller waits after the token endpoint could not even be connected to (refused,
// no route, name not found, connect timeout): the platform never saw the request.
const UNREACHABLE_PAUSE_MS = 5_000;
// Written before the pause's end in the penalty key when it is that pause, not a penalty.
const UNREACHABLE_MARK = 'unreachable:';
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function neverSent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NOT_CONNECTED.has(code);
}

/** What the token endpoint answered (a call that threw has already failed). */
interface TokenAnswer {
  started: number;
  status: number;
  text: string;
  retryAfter: string | string[] | undefined;
}

interface Keys {
  token: string;
  lock: string;
  penalty: string;
}

export class TokenCache {
  readonly #credentials: Record<string, ClientCredentials>;
  private readonly redis: Redis | Cluster;
  private readonly keyPrefix: string;
  private readonly tokenUrl: string;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly marginMs: number;
  private readonly penaltyMs: number;
  private readonly timeoutMs: number;
  private readonly maxRetryAfterSeconds: number;
  private readonly lockTtlMs: number;
  private readonly lockWaitMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly onRefresh: ((orgId: string) => void) | undefined;
  /** callers in this process share one pending refresh instead of each polling Redis */
  private readonly pending = new Map<string, Promise<string>>();

  constructor(opts: TokenCacheOptions) {
    this.#credentials = opts.credentials;
    this.redis = opts.redis;
    this.keyPrefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    const base = opts.authUrl.replace(/\/+$/, '');
    // grant_type goes in the query string, the credentials in the form body.
    this.tokenUrl = /\/accesstoken(\?|$)/.test(base) ? base : `${base}/accesstoken?grant_type=client_credentials`;
    this.dispatcher = opts.dispatcher;
    this.marginMs = (opts.refreshMarginSeconds ?? 60) * 1000;
    this.penaltyMs = (opts.penaltySeconds ?? 60) * 1000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxRetryAfterSeconds = opts.maxRetryAfterSeconds ?? 900;
    // Outlives the token call (and its retries after a 5xx), so the lock never lapses while its holder is still asking.
    this.lockTtlMs = this.timeoutMs * UNAVAILABLE_TRIES + 5_000;
    this.lockWaitMs = opts.lockWaitMs ?? this.lockTtlMs + 2_000;
    this.pollMs = opts.pollMs ?? 50;
    this.now = opts.now ?? Date.now;
    this.onRefresh = opts.onRefresh;
    defineLockScripts(this.redis);
  }

  /** Redis key of a client's cached token: a hash of the client id, never the secret. */
  static tokenKey(clientId: string, keyPrefix = DEFAULT_KEY_PREFIX): string {
    return `${keyPrefix}token:${createHash('sha256').update(clientId).digest('hex').slice(0, 32)}`;
  }

  async get(orgId: string): Promise<string> {
    const keys = this.keys(orgId);
    const cached = await this.redis.get(keys.token);
    if (cached) return cached;
    const shared = this.pending.get(orgId);
    if (shared) return shared;
    const p = this.obtain(orgId, keys).finally(() => this.pending.delete(orgId));
    this.pending.set(orgId, p);
    return p;
  }

  /** After a 401 with `token`: drops it unless another caller has already replaced it. */
  async invalidate(orgId: string, token: string): Promise<boolean> {
    return deleteIfHeld(this.redis, this.keys(orgId).token, token);
  }

  private keys(orgId: string): Keys {
    const creds = this.#credentials[orgId];
    if (!creds) throw new UnknownOrganizationError(orgId);
    const token = TokenCache.tokenKey(creds.clientId, this.keyPrefix);
    return { token, lock: `${token}:lock`, penalty: `${token}:penalty` };
  }

  private async obtain(orgId: string, keys: Keys): Promise<string> {
    const deadline = performance.now() + this.lockWaitMs;
    for (;;) {
      await this.refuseDuringPenalty(orgId, keys);
      const lock = new RedisLock(this.redis, keys.lock, this.lockTtlMs);
      if (await lock.take()) {
        try {
          // Another process may have refreshed between our read and our lock.
          const cached = await this.redis.get(keys.token);
          if (cached) return cached;
          await this.refuseDuringPenalty(orgId, keys);
          return await this.refresh(orgId, keys);
        } finally {
          await lock.release();
        }
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
      const cached = await this.redis.get(keys.token);
      if (cached) return cached;
      if (performance.now() > deadline) throw new TokenUnavailableError(orgId, 'busy', 1);
    }
  }

  private async refuseDuringPenalty(orgId: string, keys: Keys): Promise<void> {
    const [left, value] = await Promise.all([this.redis.pttl(keys.penalty), this.redis.get(keys.penalty)]);
    // The pause after an endpoint that could not be reached is no penalty of the platform's: a
    // person reading why the record waits should read that SATUSEHAT could not be reached.
    if (left > 0) throw new TokenUnavailableError(orgId, value?.startsWith(UNREACHABLE_MARK) ? 'unreachable' : 'penalty', Math.ceil(left / 1000));
  }

  // Any failure starts a penalty, not only a refusal: after a timeout or a garbled answer we cannot
  // tell whether the platform counted the attempt as failed, and asking again at once would restart
  // its wait.
  private async fail(orgId: string, keys: Keys, reason: TokenFailure, o: { status?: number; retryAfterSeconds?: number; penaltyMs?: number; unreached?: boolean } = {}): Promise<never> {
    const { status, retryAfterSeconds = 0, penaltyMs = this.penaltyMs } = o;
    const ms = Math.max(penaltyMs, Math.min(retryAfterSeconds, this.maxRetryAfterSeconds) * 1000);
    const until = String(this.now() + ms);
    await this.redis.set(keys.penalty, o.unreached ? `${UNREACHABLE_MARK}${until}` : until, 'PX', ms);
    throw new TokenUnavailableError(orgId, reason, Math.ceil(ms / 1000), status);
  }

  private async refresh(orgId: string, keys: Keys): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const answer = await this.ask(orgId, keys);
      if (attempt >= UNAVAILABLE_TRIES || !UNAVAILABLE.has(answer.status)) return this.take(orgId, keys, answer);
      await new Promise((r) => setTimeout(r, UNAVAILABLE_BACKOFF_MS * attempt));
    }
  }

  private async ask(orgId: string, keys: Keys): Promise<TokenAnswer> {
    const creds = this.#credentials[orgId]!;
    const started = this.now();
    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    try {
      const res = await request(this.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ client_id: creds.clientId, client_secret: creds.clientSecret }).toString(),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      status = res.statusCode;
      retryAfter = res.headers['retry-after'];
      // An answer past the bound is not a token: read as nothing, it is `malformed` below.
      text = await readText(res.body, MAX_BODY).catch((err: unknown) => {
        if (err instanceof AnswerTooLarge) return '';
        throw err;
      });
    } catch (err) {
      // The undici error is not kept: it can quote the request it failed on. A connection that was
      // never made cannot have been counted by the platform as a failed request: no penalty then,
      // only a short pause shared by every caller, so an outage is not met by a crowd of attempts.
      return this.fail(orgId, keys, 'unreachable', neverSent(err) ? { penaltyMs: UNREACHABLE_PAUSE_MS, unreached: true } : {});
    }
    return { started, status, text, retryAfter };
  }

  private async take(orgId: string, keys: Keys, answer: TokenAnswer): Promise<string> {
    const { started, status, text, retryAfter } = answer;
    if (status !== 200) return this.fail(orgId, keys, 'rejected', { status, retryAfterSeconds: retryAfterSeconds(retryAfter) });
    const parsed = parseToken(text);
    if (!parsed) return this.fail(orgId, keys, 'malformed', { status });

    const lifetimeMs = parsed.expiresInSeconds * 1000;
    // A token shorter-lived than the margin is still cached for half its life rather than not at all.
    const margin = Math.min(this.marginMs, lifetimeMs / 2);
    const ttlMs = Math.floor(started + lifetimeMs - margin - this.now());
    if (ttlMs > 0) await this.redis.set(keys.token, parsed.token, 'PX', ttlMs);
    this.onRefresh?.(orgId);
    return parsed.token;
  }
}

/** expires_in arrives as a string of seconds ("3599"); a number is accepted too. */
function parseToken(text: string): { token: string; expiresInSeconds: number } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!body || typeof body !== 'object') return undefined;
  const { access_token: token, expires_in: raw } = body as Record<string, unknown>;
  const expiresInSeconds = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (typeof token !== 'string' || token === '' || !Number.isFinite(expiresInSeconds) || expiresInSeconds <= 0) return undefined;
  return { token, expiresInSeconds };
}

function retryAfterSeconds(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return 0;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
