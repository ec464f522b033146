// What the bench learns about records, it learns as a client does: through the HTTP API of the
// serving gateway (GET /v1/sync/summary, GET /v1/records/{id}), never from the store.
import { Pool } from 'undici';

export type StateCounts = Record<string, number>;

/** The totals of one upstream in GET /v1/sync/summary: records per state now. */
export async function stateCounts(url: string, upstream: string): Promise<StateCounts> {
  const res = await fetch(`${url}/v1/sync/summary?upstream=${encodeURIComponent(upstream)}&days=1`);
  if (!res.ok) throw new Error(`GET /v1/sync/summary answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { upstreams: Array<{ upstream: string; totals: { counts: StateCounts } }> };
  return body.upstreams.find((u) => u.upstream === upstream)?.totals.counts ?? {};
}

/**
 * Polls the summary until `n` records are settled (synced or failed) at the upstream, calling
 * `onTick` between polls (it may throw to stop, say when a worker died). The ledger of a phase is
 * fresh, so the counts are this phase's records. Answers the counts and when they were read.
 */
export async function untilSettled(url: string, upstream: string, n: number, opts: { onTick?: (c: StateCounts) => void; timeoutMs?: number; everyMs?: number } = {}): Promise<{ counts: StateCounts; at: number }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 3_600_000);
  for (;;) {
    const counts = await stateCounts(url, upstream);
    const at = Date.now();
    opts.onTick?.(counts);
    if ((counts.synced ?? 0) + (counts.failed ?? 0) >= n) return { counts, at };
    if (at > deadline) throw new Error(`not settled in time at ${upstream}: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 50));
  }
}

/**
 * Each record by its id (GET /v1/records/{id}): how many the gateway knows and how many are
 * synced at the upstream. A record accepted (202) and not found is lost.
 */
export async function recordStates(url: string, ids: readonly string[], upstream: string): Promise<{ asked: number; found: number; synced: number }> {
  const pool = new Pool(url, { connections: 8 });
  let next = 0;
  let found = 0;
  let synced = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < ids.length) {
        const id = ids[next++] ?? '';
        const res = await pool.request({ method: 'GET', path: `/v1/records/${encodeURIComponent(id)}` });
        const text = await res.body.text();
        if (res.statusCode !== 200) continue;
        found += 1;
        const body = JSON.parse(text) as { upstreams?: Record<string, { state?: string }> };
        if (body.upstreams?.[upstream]?.state === 'synced') synced += 1;
      }
    }),
  );
  await pool.close();
  return { asked: ids.length, found, synced };
}

/** At most `max` of the ids, evenly spread (all of them when there are fewer). */
export function spread<T>(ids: readonly T[], max: number): T[] {
  if (ids.length <= max) return [...ids];
  return Array.from({ length: max }, (_, i) => ids[Math.floor((i * ids.length) / max)] as T);
}

/** The median time of `calls` GET /v1/sync/summary, one after the other (after 5 unmeasured), in ms. */
export async function summaryMedianMs(url: string, calls = 50): Promise<{ medianMs: number; p90Ms: number; bytes: number }> {
  const pool = new Pool(url, { connections: 1 });
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < calls + 5; i++) {
    const started = performance.now();
    const res = await pool.request({ method: 'GET', path: '/v1/sync/summary' });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET /v1/sync/summary answered ${res.statusCode}: ${body}`);
    if (i >= 5) times.push(performance.now() - started);
    bytes = body.length;
  }
  await pool.close();
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)] ?? 0, p90Ms: times[Math.floor(times.length * 0.9)] ?? 0, bytes };
}

let queueRetries = 0;
/** How many POSTs `queue` sent again after a 503 in this run (the run's JSON says it). */
export const retriedPosts = (): number => queueRetries;

/** POSTs each body to /v1/records from `connections` loops; answers the record ids in order (throws on a refusal). */
export async function queue(url: string, bodies: readonly string[], source: string, connections = 32): Promise<string[]> {
  const pool = new Pool(url, { connections });
  const ids: string[] = new Array(bodies.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < bodies.length) {
        const i = next++;
        // A 503 says the store is busy and to send again, as an app does; anything else stops the run.
        for (let attempt = 1; ; attempt++) {
          const res = await pool.request({ method: 'POST', path: `/v1/records?source=${source}`, headers: { 'content-type': 'application/json' }, body: bodies[i] });
          const answer = (await res.body.json()) as { id?: string };
          if (res.statusCode === 503 && attempt < 20) {
            queueRetries += 1;
            await new Promise((r) => setTimeout(r, 100 * attempt));
            continue;
          }
          if (res.statusCode !== 202 || !answer.id) throw new Error(`ingest answered ${res.statusCode}: ${JSON.stringify(answer)}`);
          ids[i] = answer.id;
          break;
        }
      }
    }),
  );
  await pool.close();
  return ids;
}

/** Delivery jobs of the upstream in its queue (gerbang_queue_jobs on /metrics, every state summed). */
export async function queuedJobs(url: string, upstream: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^gerbang_queue_jobs\{([^}]*)\} (\d+(?:\.\d+)?)$/gm)) {
    if ((m[1] ?? '').includes(`upstream="${upstream}"`)) n += Number(m[2]);
  }
  return n;
}

/** Waits until the dispatcher has made a job of each of the `n` records accepted (the outbox is empty). */
export async function untilJobs(url: string, upstream: string, n: number, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await queuedJobs(url, upstream)) < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} jobs for ${upstream} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
