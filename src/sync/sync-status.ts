import type { Place } from '../config/scope.js';
import type { Config } from '../config/types.js';
import { provinceName } from '../records/nik.js';
import { readMapping } from '../tables/read-table.js';
import { LATENCY_BUCKETS, reportingDay } from './aggregates.js';
import type { LedgerCounts } from './ledger.js';
import { UPSTREAM_STATES, type UpstreamState } from './states.js';

// The status API: the ledger's counts (kept as records move, never by reading every record) as a
// tree of places with their health.

export type Counts = Record<UpstreamState, number>;
export type Health = 'ok' | 'warning' | 'problem';

export interface AreaStatus {
  code: string;
  name: string;
  counts: Counts;
  /** records not yet synced, whatever their state */
  unsynced: number;
  oldestUnsyncedAt?: string;
  lastSyncedAt?: string;
  health: Health;
}

export interface RegencyStatus extends AreaStatus {
  puskesmas: Array<AreaStatus & { posyandu: AreaStatus[] }>;
}

export interface UpstreamSummary {
  upstream: string;
  totals: AreaStatus;
  latencySeconds: { count: number; p50?: number; p95?: number };
  regencies: RegencyStatus[];
  days: Array<{ date: string; accepted: number; synced: number; failed: number }>;
}

/** When an area shows amber or red (mappings/sync-health.json). */
export interface HealthRules {
  warningWhenOldestUnsyncedHours: number;
  problemWhenOldestUnsyncedHours: number;
  warningStates: UpstreamState[];
  problemStates: UpstreamState[];
}

export function readHealthRules(): HealthRules {
  return readMapping<HealthRules>('sync-health.json', (d, fail) => {
    for (const k of ['warningWhenOldestUnsyncedHours', 'problemWhenOldestUnsyncedHours'] as const) {
      if (typeof d[k] !== 'number' || !(d[k] > 0)) fail(k, 'must be a number of hours above 0');
    }
    for (const k of ['warningStates', 'problemStates'] as const) {
      if (!Array.isArray(d[k]) || d[k].some((s) => !UPSTREAM_STATES.includes(s))) fail(k, `must list states among ${UPSTREAM_STATES.join(', ')}`);
    }
  });
}

const emptyCounts = (): Counts => Object.fromEntries(UPSTREAM_STATES.map((s) => [s, 0])) as Counts;

export class SyncStatus {
  constructor(
    private readonly ledger: LedgerCounts,
    private readonly config: Config,
    private readonly health: HealthRules,
  ) {}

  /**
   * Per upstream: counts per state by regency → puskesmas → posyandu, the backlog's age, the last
   * sync, latency percentiles and a trend by day, for the places `covers` allows.
   */
  async summary(covers: (p: Place) => boolean, opts: { days: number; upstream?: string; now?: number }): Promise<UpstreamSummary[]> {
    const now = opts.now ?? Date.now();
    const names = this.config.upstreams.map((u) => u.name).filter((n) => !opts.upstream || n === opts.upstream);
    return Promise.all(names.map((u) => this.upstreamSummary(u, covers, opts.days, now)));
  }

  private async upstreamSummary(upstream: string, covers: (p: Place) => boolean, days: number, now: number): Promise<UpstreamSummary> {
    const dates = Array.from({ length: days }, (_, i) => reportingDay(now - (days - 1 - i) * 86_400_000));
    const counted = await this.ledger.counts(upstream, dates);

    // posyandu → its counts and last sync, for the places in scope
    const byPosyandu = new Map<string, { place: Place; counts: Counts; lastSyncedAt?: string }>();
    const entry = (place: Place) => {
      let e = byPosyandu.get(place.posyandu);
      if (!e) byPosyandu.set(place.posyandu, (e = { place, counts: emptyCounts() }));
      return e;
    };
    for (const { place, state, records } of counted.states) {
      if (covers(place) && UPSTREAM_STATES.includes(state)) entry(place).counts[state] += records;
    }
    for (const { place, at } of counted.lastSynced) if (covers(place)) entry(place).lastSyncedAt = at;

    const unsynced = [...byPosyandu.values()].filter((e) => unsyncedOf(e.counts) > 0).map((e) => e.place.posyandu);
    const oldest = await this.ledger.oldestUnsynced(upstream, unsynced);

    const buckets = new Array<number>(LATENCY_BUCKETS.length).fill(0);
    for (const { place, bucket, records } of counted.latency) {
      if (covers(place) && bucket >= 0 && bucket < buckets.length) buckets[bucket]! += records;
    }

    const trend = dates.map((date, i) => {
      const day = { date, accepted: 0, synced: 0, failed: 0 };
      for (const { place, event, records } of counted.days[i] ?? []) if (covers(place) && event in day) day[event] += records;
      return day;
    });

    return { upstream, ...this.tree(byPosyandu, oldest, now), latencySeconds: percentiles(buckets), days: trend };
  }

  private tree(byPosyandu: Map<string, { place: Place; counts: Counts; lastSyncedAt?: string }>, oldest: Map<string, number>, now: number) {
    const { puskesmas: pkRegistry, posyandu: posRegistry } = this.config.facilities;
    const regencies = new Map<string, RegencyStatus>();
    const puskesmas = new Map<string, AreaStatus & { posyandu: AreaStatus[] }>();
    const totals = area('all', 'Semua wilayah');
    for (const { place, counts, lastSyncedAt } of [...byPosyandu.values()].sort((a, b) => a.place.posyandu.localeCompare(b.place.posyandu))) {
      let reg = regencies.get(place.regency);
      if (!reg) regencies.set(place.regency, (reg = { ...area(place.regency, regencyName(place.regency)), puskesmas: [] }));
      let pk = puskesmas.get(place.puskesmas);
      if (!pk) {
        puskesmas.set(place.puskesmas, (pk = { ...area(place.puskesmas, pkRegistry[place.puskesmas]?.name ?? place.puskesmas), posyandu: [] }));
        reg.puskesmas.push(pk);
      }
      const pos = area(place.posyandu, posRegistry[place.posyandu]?.name ?? place.posyandu);
      const o = oldest.get(place.posyandu);
      for (const a of [pos, pk, reg, totals]) add(a, counts, lastSyncedAt, o);
      pk.posyandu.push(pos);
    }
    const all = [totals, ...regencies.values(), ...puskesmas.values(), ...[...puskesmas.values()].flatMap((p) => p.posyandu)];
    for (const a of all) a.health = healthOf(a, now, this.health);
    return { totals, regencies: [...regencies.values()] };
  }
}

// The registry names puskesmas and posyandu but not regencies; the region code's province part
// (Kemendagri, as in the NIK) gives a name a person recognises.
function regencyName(code: string): string {
  const province = provinceName(code);
  return province ? `Kab/Kota ${code} (${province})` : code;
}

function area(code: string, name: string): AreaStatus {
  return { code, name, counts: emptyCounts(), unsynced: 0, health: 'ok' };
}

function add(a: AreaStatus, counts: Counts, lastSyncedAt: string | undefined, oldestMs: number | undefined): void {
  for (const s of UPSTREAM_STATES) a.counts[s] += counts[s];
  a.unsynced = unsyncedOf(a.counts);
  if (lastSyncedAt && (!a.lastSyncedAt || lastSyncedAt > a.lastSyncedAt)) a.lastSyncedAt = lastSyncedAt;
  if (oldestMs !== undefined) {
    const iso = new Date(oldestMs).toISOString();
    if (!a.oldestUnsyncedAt || iso < a.oldestUnsyncedAt) a.oldestUnsyncedAt = iso;
  }
}

function unsyncedOf(c: Counts): number {
  return UPSTREAM_STATES.filter((s) => s !== 'synced').reduce((n, s) => n + c[s], 0);
}

function healthOf(a: AreaStatus, now: number, health: HealthRules): Health {
  const ageHours = a.oldestUnsyncedAt ? (now - Date.parse(a.oldestUnsyncedAt)) / 3_600_000 : 0;
  if (health.problemStates.some((s) => a.counts[s] > 0) || ageHours >= health.problemWhenOldestUnsyncedHours) return 'problem';
  if (health.warningStates.some((s) => a.counts[s] > 0) || ageHours >= health.warningWhenOldestUnsyncedHours) return 'warning';
  return 'ok';
}

/** p50 and p95 as the upper bound of the bucket they fall in ("synced within"). */
function percentiles(buckets: number[]): UpstreamSummary['latencySeconds'] {
  const count = buckets.reduce((a, b) => a + b, 0);
  if (count === 0) return { count };
  const at = (q: number) => {
    let seen = 0;
    for (let i = 0; i < buckets.length; i++) {
      seen += buckets[i]!;
      if (seen >= q * count) return LATENCY_BUCKETS[i]!;
    }
    return Infinity;
  };
  const finite = (v: number) => (Number.isFinite(v) ? v : undefined);
  const p50 = finite(at(0.5));
  const p95 = finite(at(0.95));
  return { count, ...(p50 !== undefined ? { p50 } : {}), ...(p95 !== undefined ? { p95 } : {}) };
}
