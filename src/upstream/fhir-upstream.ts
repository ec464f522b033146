import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/types.js';
import type { WrittenResource } from './upstream.js';
import { badAnswer, deadline, httpOutcome, networkCode, readAnswer, transactionAnswerProblem, transportOutcome, type AnswerLimits } from './http-answer.js';
import { SUPERSEDED, type Corrections } from './corrections.js';
import type { PushContext, PushResult, Upstream } from './upstream.js';

type FhirConfig = Extract<UpstreamConfig, { kind: 'fhir' }>;


/** Any FHIR R4 server (HAPI, Medplum, a provincial server): POSTs the transaction to the base URL. */
export class FhirUpstream implements Upstream {
  readonly kind = 'fhir';
  readonly name: string;
  private readonly pool: Pool;
  /** $map?validate's own connections: a crowd of dry runs queues here, never in front of deliveries */
  private readonly validationPool: Pool;
  private readonly limits: AnswerLimits;
  private readonly validationLimits: AnswerLimits;
  private validating = 0;
  private readonly path: string;

  constructor(
    private readonly cfg: FhirConfig,
    private readonly corrections: Corrections,
  ) {
    this.name = cfg.name;
    const url = new URL(cfg.baseUrl);
    this.path = url.pathname.replace(/\/+$/, '') || '/';
    // One keep-alive pool per upstream, shared by every job, with every phase bounded in time.
    this.pool = new Pool(url.origin, {
      connections: cfg.maxConnections,
      connectTimeout: cfg.timeouts.connectMs,
      headersTimeout: cfg.timeouts.headersMs,
      bodyTimeout: cfg.timeouts.bodyMs,
      keepAliveTimeout: 30_000,
    });
    this.limits = { totalMs: cfg.timeouts.totalMs, maxAnswerBytes: cfg.maxAnswerBytes };
    const v = cfg.validation;
    this.validationLimits = { totalMs: v.totalMs, maxAnswerBytes: cfg.maxAnswerBytes };
    this.validationPool = new Pool(url.origin, {
      connections: v.connections,
      connectTimeout: Math.min(cfg.timeouts.connectMs, v.totalMs),
      headersTimeout: v.totalMs,
      bodyTimeout: v.totalMs,
      keepAliveTimeout: 10_000,
    });
  }

  describe() {
    return { name: this.name, kind: this.kind, target: new URL(this.cfg.baseUrl).origin };
  }

  /**
   * Sends the transaction. A server that caps transaction size gets it in parts, in order: the
   * mapping puts every entry after the entries it refers to, so each part's urn:uuid references
   * are rewritten to the ids the earlier parts were given; entries that name each other (an
   * Encounter and its diagnosis) go in the same part. Every write is conditional, so a part
   * sent again after a failure changes nothing that is already there. A correction updates the
   * same resources by those conditional PUTs; what it no longer has is marked entered-in-error.
   */
  async push(bundle: Bundle, ctx?: PushContext): Promise<PushResult> {
    const started = performance.now();
    const superseded = async () => ((await ctx?.superseded?.()) ? { outcome: SUPERSEDED, durationMs: performance.now() - started } : undefined);
    const stale = await superseded();
    if (stale) return stale;
    const sent = await this.send(bundle);
    const dropped = this.corrections.droppedBy(bundle, ctx?.held ?? [], sent.resources ?? []);
    if (sent.outcome.kind !== 'delivered' || dropped.length === 0) return sent;
    // The conditional PUTs updated what both versions have; what the new one dropped is withdrawn.
    const resources = [...(sent.resources ?? [])];
    for (const h of dropped) {
      const late = h.retracted ? undefined : await superseded();
      if (late) return late;
      const failed = h.retracted ? undefined : await this.withdraw(h);
      if (failed) return { ...failed, durationMs: performance.now() - started };
      resources.push({ ...h, status: '200 OK', retracted: true });
    }
    return { outcome: { kind: 'delivered' }, resources, durationMs: performance.now() - started };
  }

  private async send(bundle: Bundle): Promise<PushResult> {
    const max = this.cfg.maxEntriesPerTransaction;
    const entries = bundle.entry ?? [];
    if (!max || entries.length <= max) return this.post(bundle);
    const started = performance.now();
    const resolved = new Map<string, string>();
    const resources: WrittenResource[] = [];
    for (const slice of partsOf(entries, max)) {
      const part: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: slice.map((e) => rewriteReferences(e, resolved)) };
      const result = await this.post(part);
      if (result.outcome.kind !== 'delivered') return { ...result, durationMs: performance.now() - started };
      for (const r of result.resources ?? []) {
        resolved.set(r.fullUrl, `${r.resourceType}/${r.id}`);
        resources.push(r);
      }
    }
    return { outcome: { kind: 'delivered' }, resources, durationMs: performance.now() - started };
  }

  /**
   * The server's own judgement of the Bundle (HAPI and others offer Bundle/$validate); nothing is
   * stored. At most validation.connections run at once, each within validation.totalMs; a dry run
   * beyond that is told the validator is busy rather than queued behind the others.
   */
  async validate(bundle: Bundle): Promise<{ httpStatus: number; outcome: unknown } | { error: string }> {
    if (this.validating >= this.cfg.validation.connections) return { error: 'validator-busy' };
    this.validating++;
    try {
      const res = await this.validationPool.request({
        ...deadline(this.validationLimits),
        method: 'POST',
        path: `${this.path.replace(/\/$/, '')}/Bundle/$validate`,
        headers: { ...this.cfg.headers, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
        body: JSON.stringify(bundle),
      });
      return { httpStatus: res.statusCode, outcome: await readAnswer(res.body, this.validationLimits.maxAnswerBytes) };
    } catch (err) {
      return { error: networkCode(err) };
    } finally {
      this.validating--;
    }
  }

  /** Reads the resource back and writes it again marked entered-in-error; the failed answer, if any. */
  private async withdraw(h: WrittenResource): Promise<Omit<PushResult, 'durationMs'> | undefined> {
    const path = `${this.path.replace(/\/$/, '')}/${h.resourceType}/${encodeURIComponent(h.id)}`;
    const headers = { ...this.cfg.headers, accept: 'application/fhir+json' };
    try {
      const got = await this.pool.request({ method: 'GET', path, headers, ...deadline(this.limits) });
      const current = await readAnswer(got.body, this.limits.maxAnswerBytes);
      if (got.statusCode === 404 || got.statusCode === 410) return undefined; // nothing left to withdraw
      if (got.statusCode < 200 || got.statusCode >= 300) return { outcome: httpOutcome(got.statusCode, got.headers), body: current };
      const marked = this.corrections.withdrawn(current as Resource);
      if (!marked) return undefined;
      const put = await this.pool.request({ method: 'PUT', path, headers: { ...headers, 'content-type': 'application/fhir+json' }, body: JSON.stringify(marked), ...deadline(this.limits) });
      const answer = await readAnswer(put.body, this.limits.maxAnswerBytes);
      return put.statusCode >= 200 && put.statusCode < 300 ? undefined : { outcome: httpOutcome(put.statusCode, put.headers), body: answer };
    } catch (err) {
      return { outcome: transportOutcome(err, this.limits) };
    }
  }

  private async post(bundle: Bundle): Promise<PushResult> {
    const started = performance.now();
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: {
          ...this.cfg.headers,
          'content-type': 'application/fhir+json',
          accept: 'application/fhir+json',
        },
        body: JSON.stringify(bundle),
        ...deadline(this.limits),
      });
      const answer = await readAnswer(res.body, this.limits.maxAnswerBytes);
      const durationMs = performance.now() - started;
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const problem = transactionAnswerProblem(bundle, answer);
        if (problem) return { outcome: badAnswer(problem), body: answer, durationMs };
        return { outcome: { kind: 'delivered' }, resources: writtenResources(bundle, answer), durationMs };
      }
      return { outcome: httpOutcome(res.statusCode, res.headers), body: answer, durationMs };
    } catch (err) {
      return { outcome: transportOutcome(err, this.limits), durationMs: performance.now() - started };
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.validationPool.close()]);
  }
}

/**
 * The entries in parts of at most `max`, cut only where no entry of a part refers to an entry of
 * a later part: such a reference could not be resolved when the part is written. A group of
 * entries that cannot be cut within `max` goes as one larger part (the server then says so).
 */
export function partsOf(entries: BundleEntry[], max: number): BundleEntry[][] {
  const position = new Map(entries.map((e, i) => [e.fullUrl ?? '', i]));
  // the furthest entry each entry refers to
  const reach = entries.map((e, i) => Math.max(i, ...[...JSON.stringify(e.resource ?? {}).matchAll(/"reference":"([^"]+)"/g)].map((m) => position.get(m[1] ?? '') ?? i)));
  const parts: BundleEntry[][] = [];
  let start = 0;
  while (start < entries.length) {
    const cutAllowed = (end: number) => reach.slice(start, end).every((r) => r < end);
    let end = Math.min(start + max, entries.length);
    while (end > start + 1 && !cutAllowed(end)) end--;
    if (!cutAllowed(end)) {
      end = start + 1;
      while (!cutAllowed(end)) end++;
    }
    parts.push(entries.slice(start, end));
    start = end;
  }
  return parts;
}

/** A copy of the entry whose references to already-written entries name their server ids. */
function rewriteReferences(entry: BundleEntry, resolved: Map<string, string>): BundleEntry {
  if (resolved.size === 0) return entry;
  return JSON.parse(JSON.stringify(entry), (key, value: unknown) =>
    key === 'reference' && typeof value === 'string' ? (resolved.get(value) ?? value) : value,
  ) as BundleEntry;
}

/** Pairs each entry we sent with the id in the transaction-response (same order, FHIR R4 3.1.0.11.4). */
export function writtenResources(sent: Bundle, response: unknown): WrittenResource[] {
  const entries = (response as Bundle | undefined)?.entry ?? [];
  const out: WrittenResource[] = [];
  (sent.entry ?? []).forEach((entry: BundleEntry, i) => {
    const answer = entries[i]?.response;
    const location = answer?.location ?? '';
    // location: [base/]Type/id[/_history/v]
    const match = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(location);
    const fallback = entries[i]?.resource;
    const resourceType = match?.[1] ?? fallback?.resourceType ?? entry.resource?.resourceType ?? '';
    const id = match?.[2] ?? fallback?.id ?? '';
    if (id) out.push({ fullUrl: entry.fullUrl ?? '', resourceType, id, status: answer?.status ?? '' });
  });
  return out;
}
