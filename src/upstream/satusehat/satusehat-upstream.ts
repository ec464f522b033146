import type { Bundle, Encounter, EpisodeOfCare, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import type { Cluster, Redis } from 'ioredis';
import { Pool } from 'undici';
import type { Timeouts } from '../../config/types.js';
import type { WrittenResource } from '../upstream.js';
import { writtenResources } from '../fhir-upstream.js';
import { SUPERSEDED, heldEntries, type Corrections } from '../corrections.js';
import type { PushContext, PushResult, Upstream } from '../upstream.js';
import { SatusehatApi } from './api-client.js';
import { businessIdentifier, planEntries, practitionerNiksIn, puskesmasOf, rewriteReferences, transactionOf, type PlannedEntry } from './bundle-rewrite.js';
import { isDuplicateAnswer } from './duplicate-answer.js';
import { findActiveEpisode, findAllByIdentifier, findAllSentTogether, findByIdentifier } from './existing-resources.js';
import { IdentityCache } from './identity-cache.js';
import { badAnswer, httpOutcome, isTransportError, transactionAnswerProblem, transportOutcome, type AnswerLimits } from '../http-answer.js';
import { PushStopped, waitingIdentity } from './outcomes.js';
import type { PushOutcome } from '../upstream.js';
import { resolvePatient } from './patient-resolver.js';
import { resolvePractitioner } from './practitioner-resolver.js';
import { DEFAULT_KEY_PREFIX } from './key-prefix.js';
import { ResendMarker } from './resend-marker.js';
import { NIK_SYSTEM, organizationInSysIds } from './systems.js';
import { TokenCache, TokenUnavailableError, UnknownOrganizationError, type ClientCredentials } from './token-cache.js';

export interface SatusehatUpstreamOptions {
  name: string;
  /** prefix of the token, identity and resend-marker keys ('g:' by default, redis.keyPrefix) */
  keyPrefix?: string;
  /** {host}/oauth2/v1, or the full accesstoken URL */
  authUrl: string;
  /** {host}/fhir-r4/v1 */
  baseUrl: string;
  /** per puskesmas Organization id (Master Sarana Index): one client is bound to one Organization */
  credentials: Record<string, ClientCredentials>;
  timeouts: Timeouts;
  /** an answer longer than this fails the call (upstream.answer-too-large) */
  maxAnswerBytes: number;
  /** caps the token endpoint's Retry-After (delivery.maxRetryAfterSeconds) */
  maxRetryAfterSeconds?: number;
  redis: Redis | Cluster;
  /** what a correction withdraws (mappings/entered-in-error.json, loaded by the process role) */
  corrections: Corrections;
  onTokenRefresh?: () => void;
  /** how long an IHS number, nakes id or Location id is remembered; 7 days unless told */
  identityCacheTtlSeconds?: number;
  /** HMAC key for the identity cache keys; derived from the client secrets when absent */
  identityKeySecret?: string;
  maxConnections?: number;
  /**
   * posyandu code → the id of its Location at SATUSEHAT (facilities.posyandu.*.locationId), for a
   * posyandu the puskesmas registered there itself: referenced as it is, never looked up or created
   */
  posyanduLocations?: Readonly<Record<string, string>>;
  /** 60: SATUSEHAT registers a newborn under the mother's NIK only in its first 60 days (official INC Postman collection) */
  newbornMaxAgeDays?: number;
  now?: () => number;
}

// A transaction refused as a duplicate is answered by taking up what exists and sending the rest;
// a second refusal after that means something else is wrong, and a person should look.
const DUPLICATE_ROUNDS = 2;

/**
 * SATUSEHAT (Kemenkes) as an upstream. The Bundle Gerbang stores is written for any FHIR server;
 * this upstream resolves the people and places SATUSEHAT owns, rewrites the Bundle into the plain
 * POST transaction SATUSEHAT accepts (no conditional references, no ifNoneExist), and makes up for the missing
 * conditional create by looking resources up by identifier whenever they may already be there.
 * A correction (a later version of a record) replaces what SATUSEHAT holds with `PUT {Type}/{id}`
 * and withdraws what the new version no longer has (corrections.ts).
 */
export class SatusehatUpstream implements Upstream {
  readonly kind = 'satusehat';
  readonly name: string;
  private readonly baseUrl: string;
  private readonly credentials: Record<string, ClientCredentials>;
  private readonly pool: Pool;
  private readonly authPool: Pool | undefined;
  private readonly api: SatusehatApi;
  private readonly cache: IdentityCache;
  private readonly marker: ResendMarker;
  private readonly now: () => number;
  private readonly newbornMaxAgeDays: number;
  private readonly limits: AnswerLimits;
  private readonly corrections: Corrections;
  private readonly posyanduLocations: Readonly<Record<string, string>>;

  constructor(opts: SatusehatUpstreamOptions) {
    this.name = opts.name;
    this.corrections = opts.corrections;
    this.posyanduLocations = opts.posyanduLocations ?? {};
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.credentials = opts.credentials;
    this.now = opts.now ?? Date.now;
    this.newbornMaxAgeDays = opts.newbornMaxAgeDays ?? 60;
    this.limits = { totalMs: opts.timeouts.totalMs, maxAnswerBytes: opts.maxAnswerBytes };
    const poolOptions = {
      connections: opts.maxConnections ?? 8,
      connectTimeout: opts.timeouts.connectMs,
      headersTimeout: opts.timeouts.headersMs,
      bodyTimeout: opts.timeouts.bodyMs,
      keepAliveTimeout: 30_000,
    };
    const fhirOrigin = new URL(this.baseUrl).origin;
    this.pool = new Pool(fhirOrigin, poolOptions);
    // Token calls go to the same host in every documented environment; a separate host gets
    // its own pool, since a pool serves one origin.
    const authOrigin = new URL(opts.authUrl).origin;
    this.authPool = authOrigin === fhirOrigin ? undefined : new Pool(authOrigin, { ...poolOptions, connections: 2 });
    const keyPrefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    const tokens = new TokenCache({
      redis: opts.redis,
      keyPrefix,
      authUrl: opts.authUrl,
      credentials: opts.credentials,
      dispatcher: this.authPool ?? this.pool,
      ...(opts.maxRetryAfterSeconds !== undefined ? { maxRetryAfterSeconds: opts.maxRetryAfterSeconds } : {}),
      timeoutMs: Math.min(opts.timeouts.totalMs, Math.max(opts.timeouts.headersMs, opts.timeouts.bodyMs)),
      ...(opts.onTokenRefresh ? { onRefresh: () => opts.onTokenRefresh?.() } : {}),
    });
    this.api = new SatusehatApi(this.pool, this.baseUrl, tokens, this.limits);
    this.cache = new IdentityCache(
      opts.redis,
      opts.identityKeySecret ?? IdentityCache.secretFrom(opts.credentials),
      this.baseUrl,
      opts.identityCacheTtlSeconds ?? 7 * 24 * 3600,
      keyPrefix,
    );
    this.marker = new ResendMarker(opts.redis, keyPrefix);
  }

  describe() {
    return { name: this.name, kind: this.kind, target: new URL(this.baseUrl).origin };
  }

  async push(bundle: Bundle, ctx: PushContext): Promise<PushResult> {
    const started = performance.now();
    const done = (outcome: PushOutcome, extra: { resources?: WrittenResource[]; body?: unknown } = {}): PushResult => ({
      outcome,
      ...extra,
      durationMs: performance.now() - started,
    });
    const orgId = puskesmasOf(bundle);
    if (!orgId) {
      return done({ kind: 'not-sent', code: 'satusehat.no-organization', message: 'the Bundle names no puskesmas Organization, so no SATUSEHAT client can send it', transient: false });
    }
    if (!this.credentials[orgId]) {
      return done({
        kind: 'not-sent',
        code: 'satusehat.no-credentials',
        message: `upstream ${this.name} has no SATUSEHAT credentials for organization ${orgId}; add them to its configuration and replay the record`,
        transient: false,
      });
    }
    if (lacksPractitioner(bundle)) {
      // SATUSEHAT refuses an Encounter without its attending nakes (rule 10119): say why here
      // rather than let the platform answer with a rule number.
      return done({
        kind: 'not-sent',
        code: 'satusehat.no-practitioner',
        message:
          'no health worker answers for this visit: it was recorded by a kader at a posyandu without supervisorNik. Set the posyandu’s supervisorNik (the bidan desa) and send the record again',
        transient: false,
      });
    }
    try {
      return done({ kind: 'delivered' }, { resources: await this.deliver(bundle, orgId, ctx) });
    } catch (err) {
      if (err instanceof PushStopped) return done(err.outcome, err.body !== undefined ? { body: err.body } : {});
      if (err instanceof TokenUnavailableError) {
        return done({ kind: 'not-sent', code: `satusehat.token-${err.reason}`, message: err.message, transient: true, retryAfter: String(err.retryAfterSeconds) });
      }
      if (err instanceof UnknownOrganizationError) {
        return done({ kind: 'not-sent', code: 'satusehat.no-credentials', message: err.message, transient: false });
      }
      if (isTransportError(err)) return done(transportOutcome(err, this.limits));
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.authPool?.close()]);
  }

  /** Everything SATUSEHAT ends up holding for the record, by the fullUrl each entry had in Gerbang's Bundle. */
  private async deliver(bundle: Bundle, orgId: string, ctx: PushContext): Promise<WrittenResource[]> {
    const plan = planEntries(bundle, orgId);
    const refs = new Map<string, string>();
    const settled: WrittenResource[] = [];
    // Found, not written: "200 OK" as a FHIR server answers a conditional create that matched.
    const adopt = (e: PlannedEntry, id: string, status = '200 OK') => {
      refs.set(e.fullUrl, `${e.resource.resourceType}/${id}`);
      settled.push({ fullUrl: e.fullUrl, resourceType: e.resource.resourceType, id, status });
    };
    // Held by SATUSEHAT and to be replaced with this version's values: a correction (docs/satusehat-conformance.md).
    const updates = new Map<string, string>();
    const update = (e: PlannedEntry, id: string) => {
      refs.set(e.fullUrl, `${e.resource.resourceType}/${id}`);
      updates.set(e.fullUrl, id);
    };

    // People first: a record whose person SATUSEHAT does not know waits before anything is sent.
    for (const e of plan) {
      if (e.role === 'puskesmas') adopt(e, orgId);
      else if (e.role === 'patient') {
        const p = await resolvePatient(this.resolverDeps(), orgId, e.resource as Patient);
        adopt(e, p.id, p.created ? '201 Created' : '200 OK');
      } else if (e.role === 'practitioner') {
        const nik = (e.resource as Practitioner).identifier?.find((i) => i.system === NIK_SYSTEM && i.value)?.value;
        if (!nik) throw waitingIdentity('a health worker in the record has no NIK, so SATUSEHAT cannot identify them');
        adopt(e, await resolvePractitioner(this.resolverDeps(), orgId, nik));
      }
    }
    const practitioners = new Map<string, string>();
    for (const nik of practitionerNiksIn(plan.filter((e) => !isOwned(e)).map((e) => e.resource))) {
      practitioners.set(nik, await resolvePractitioner(this.resolverDeps(), orgId, nik));
    }

    for (const e of plan.filter((x) => x.role === 'faskes-master')) {
      const id = await this.findFaskesResource(orgId, e.resource);
      if (id) adopt(e, id);
    }
    for (const e of plan.filter((x) => x.role === 'episode')) {
      const id = await this.findEpisode(orgId, e.resource as EpisodeOfCare, refs);
      if (id) adopt(e, id);
    }

    // What the earlier version wrote is updated under the ids the ledger kept for it: a second
    // POST would be refused as a duplicate and change nothing (rule 20002).
    const held = heldEntries(bundle, ctx.held ?? []);
    for (const e of plan) {
      const h = e.role === 'clinical' && !refs.has(e.fullUrl) ? held.get(e.fullUrl) : undefined;
      if (h) update(e, h.id);
    }
    // A resource found by identifier after an attempt of this version went out holds these very
    // values when this is the first version (adopted), perhaps an earlier version's when it is a
    // correction (replaced). One SATUSEHAT refuses as a duplicate was not written by this version's
    // transaction (that was refused whole), so it is replaced whatever the version: the record
    // wins over what a lost ledger, an expired marker or another sender left there.
    const correction = ctx.version > 1;
    const found = (e: PlannedEntry, id: string) => (correction && e.role === 'clinical' ? update(e, id) : adopt(e, id));
    const duplicate = (e: PlannedEntry, id: string) => (e.role === 'clinical' ? update(e, id) : adopt(e, id));

    const pending = plan.filter((e) => !isOwned(e) && !refs.has(e.fullUrl));
    // How the ledger says the last push ended stands in for a marker Redis lost with its data.
    const resending = pending.length > 0 && (mayHaveWrittenBefore(ctx.previousPush) || (await this.marker.wasSent(ctx.recordId, ctx.version)));
    if (resending) {
      // Every transaction of this version carried all of these that were not known to be there.
      const clinical = pending.filter((e) => e.role === 'clinical');
      const ids = await findAllSentTogether(this.api, orgId, clinical.map((e) => e.resource));
      clinical.forEach((e, i) => {
        const id = ids[i];
        if (id) found(e, id);
      });
    }
    await this.create(orgId, ctx, pending, refs, practitioners, resending, { adopt, duplicate, settled });

    // After the creates: an updated resource may refer to one just created (a new diagnosis).
    for (const e of plan) {
      const id = updates.get(e.fullUrl);
      if (!id) continue;
      if (await ctx.superseded?.()) throw new PushStopped(SUPERSEDED);
      await this.api.replace(orgId, { ...rewriteReferences(e.resource, refs, practitioners), id });
      settled.push({ fullUrl: e.fullUrl, resourceType: e.resource.resourceType, id, status: '200 OK' });
    }
    for (const h of this.corrections.droppedBy(bundle, ctx.held ?? [], settled)) {
      if (!h.retracted) {
        if (await ctx.superseded?.()) throw new PushStopped(SUPERSEDED);
        const current = await this.api.read(orgId, h.resourceType as Resource['resourceType'], h.id);
        const marked = current ? this.corrections.withdrawn(current) : undefined;
        if (marked) await this.api.replace(orgId, { ...marked, id: h.id });
      }
      settled.push({ ...h, status: '200 OK', retracted: true });
    }
    return settled;
  }

  /** The entries SATUSEHAT does not hold yet, in plain POST transactions; what a duplicate answer shows is there is taken up. */
  private async create(
    orgId: string,
    ctx: PushContext,
    pending: PlannedEntry[],
    refs: Map<string, string>,
    practitioners: ReadonlyMap<string, string>,
    resending: boolean,
    on: { adopt: (e: PlannedEntry, id: string) => void; duplicate: (e: PlannedEntry, id: string) => void; settled: WrittenResource[] },
  ): Promise<void> {
    for (let round = 0; ; round++) {
      const remaining = pending.filter((e) => !refs.has(e.fullUrl));
      if (remaining.length === 0) return;
      const tx = transactionOf(remaining.map((e) => ({ fullUrl: e.fullUrl, resource: rewriteReferences(e.resource, refs, practitioners) })));
      await this.marker.markSending(ctx.recordId, ctx.version);
      const reply = await this.api.call(orgId, 'POST', '', tx);
      if (reply.status >= 200 && reply.status < 300) {
        const problem = transactionAnswerProblem(tx, reply.body);
        // Nothing tells what was written: the next attempt looks every resource up first.
        if (problem) throw new PushStopped(badAnswer(problem), reply.body);
        const written = writtenResources(tx, reply.body);
        await this.rememberFaskesResources(remaining, written);
        for (const w of written) refs.set(w.fullUrl, `${w.resourceType}/${w.id}`);
        on.settled.push(...written);
        return;
      }
      if (round < DUPLICATE_ROUNDS && isDuplicateAnswer(reply.body)) {
        // Take up whatever is already there (never resend under a new identifier), then send the rest.
        if (await this.takeUpExisting(orgId, remaining, refs, on)) continue;
      }
      // A transaction is all or nothing, and an answer other than 408 or 5xx (a 429 above all)
      // says it was not carried out. When no earlier attempt left any doubt either, the next
      // attempt need not look every resource up again: while SATUSEHAT is throttling, that would
      // turn each throttled push into one request per resource.
      if (!resending && !mayHaveWritten(reply.status)) await this.marker.clear(ctx.recordId, ctx.version);
      throw new PushStopped(httpOutcome(reply.status, reply.headers), reply.body);
    }
  }

  /**
   * After a duplicate answer: finds which of the refused entries SATUSEHAT already holds; whether
   * any was. What other records share (the posyandu Location, the pregnancy's episode) is what
   * usually races, so it is looked up first, and the record's own resources as one group
   * (findAllSentTogether). Only when neither shows anything is every entry looked up: a lost
   * ledger or another sender may have left some of them without the others.
   */
  private async takeUpExisting(
    orgId: string,
    remaining: PlannedEntry[],
    refs: Map<string, string>,
    on: { adopt: (e: PlannedEntry, id: string) => void; duplicate: (e: PlannedEntry, id: string) => void },
  ): Promise<boolean> {
    const before = refs.size;
    for (const e of remaining.filter((x) => x.role !== 'clinical')) {
      const id = e.role === 'episode' ? await this.findEpisode(orgId, e.resource as EpisodeOfCare, refs) : await this.findFaskesResource(orgId, e.resource);
      if (id) on.adopt(e, id);
    }
    const clinical = remaining.filter((e) => e.role === 'clinical');
    const takeUp = (ids: Array<string | undefined>) =>
      clinical.forEach((e, i) => {
        const id = ids[i];
        if (id) on.duplicate(e, id);
      });
    takeUp(await findAllSentTogether(this.api, orgId, clinical.map((e) => e.resource)));
    if (refs.size > before) return true;
    takeUp(await findAllByIdentifier(this.api, orgId, clinical.map((e) => e.resource)));
    return refs.size > before;
  }

  private resolverDeps() {
    return { api: this.api, cache: this.cache, now: this.now, newbornMaxAgeDays: this.newbornMaxAgeDays };
  }

  /** A posyandu Location (or sub-Organization) is created once per puskesmas and then only referenced. */
  private async findFaskesResource(orgId: string, resource: Resource): Promise<string | undefined> {
    const registered = this.registeredLocation(orgId, resource);
    if (registered) return registered;
    const parts = faskesKey(resource);
    if (parts) {
      const cached = await this.cache.get('faskes-resource', parts);
      if (cached) return cached;
    }
    const id = await findByIdentifier(this.api, orgId, resource);
    if (id && parts) await this.cache.set('faskes-resource', parts, id);
    return id;
  }

  /**
   * The Location the site configured for this posyandu. Gerbang's own identifier would not find one
   * the puskesmas registered with identifiers of its own, and creating another would leave the
   * posyandu twice on the platform.
   */
  private registeredLocation(orgId: string, resource: Resource): string | undefined {
    if (resource.resourceType !== 'Location') return undefined;
    const id = businessIdentifier(resource);
    if (!id?.value || organizationInSysIds(id.system) !== orgId) return undefined;
    return Object.hasOwn(this.posyanduLocations, id.value) ? this.posyanduLocations[id.value] : undefined;
  }

  private async rememberFaskesResources(sent: PlannedEntry[], written: WrittenResource[]): Promise<void> {
    for (const e of sent) {
      if (e.role !== 'faskes-master') continue;
      const id = written.find((w) => w.fullUrl === e.fullUrl)?.id;
      const parts = faskesKey(e.resource);
      if (id && parts) await this.cache.set('faskes-resource', parts, id);
    }
  }

  /** The patient's active episode of this type (one platform-wide), else the one this pregnancy's identifier names (closed or not). */
  private async findEpisode(orgId: string, episode: EpisodeOfCare, refs: ReadonlyMap<string, string>): Promise<string | undefined> {
    const patient = episode.patient?.reference;
    const ihs = patient ? (refs.get(patient) ?? patient) : undefined;
    const active = ihs?.startsWith('Patient/') ? await findActiveEpisode(this.api, orgId, episode, ihs) : undefined;
    return active ?? (await findByIdentifier(this.api, orgId, episode));
  }
}

function lacksPractitioner(bundle: Bundle): boolean {
  const encounters = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Encounter => r?.resourceType === 'Encounter');
  return encounters.some((e) => !e.participant?.some((p) => p.individual?.reference || p.individual?.identifier));
}

/** Whether a transaction answered with this status may have been carried out (408, 5xx: a gateway timeout, say). */
function mayHaveWritten(status: number): boolean {
  return status === 408 || status >= 500;
}

// A transaction sent whose answer never came whole: it may have been carried out.
const ANSWER_LOST = new Set(['upstream.bad-answer', 'upstream.timeout', 'upstream.answer-too-large', 'upstream.headers-timeout', 'upstream.body-timeout', 'upstream.socket', 'upstream.network']);

/** Whether the last push, as the ledger kept it, may have written: it died sending, or its answer was a 408 or 5xx, or was lost. */
function mayHaveWrittenBefore(p: PushContext['previousPush']): boolean {
  if (!p) return false;
  if (!p.ended) return true;
  return p.httpStatus !== undefined ? mayHaveWritten(p.httpStatus) : p.code !== undefined && ANSWER_LOST.has(p.code);
}

function isOwned(e: PlannedEntry): boolean {
  return e.role === 'puskesmas' || e.role === 'patient' || e.role === 'practitioner';
}

function faskesKey(resource: Resource): string[] | undefined {
  const id = businessIdentifier(resource);
  return id?.system && id.value ? [resource.resourceType, id.system, id.value] : undefined;
}
