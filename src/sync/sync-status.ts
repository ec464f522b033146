import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { mappingsDir } from '../config/paths.js';
import type { Place } from '../config/scope.js';
import type { Config } from '../config/types.js';
import { provinceName } from '../records/nik.js';
import { LATENCY_BUCKETS, reportingDay } from './aggregates.js';
import { PLACE_SEPARATOR, type StoreKeys } from './store/keys.js';
import { UPSTREAM_STATES, type UpstreamState } from './states.js';

// The status API's reads: from the counts aggregates.ts keeps, never by scanning records.

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

interface HealthRules {
  warningWhenOldestUnsyncedHours: number;
  problemWhenOldestUnsyncedHours: number;
  warningStates: UpstreamState[];
  problemStates: UpstreamState[];
}

const health = JSON.parse(readFileSync(join(mappingsDir, 'sync-health.json'), 'utf8')) as HealthRules;

const emptyCounts = (): Counts => Object.fromEntries(UPSTREAM_STATES.map((s) => [s, 0])) as Counts;

function parsePlace(field: string): { place: Place; rest: string[] } {
  const [regency = '', puskesmas = '', posyandu = '', ...rest] = field.split(PLACE_SEPARATOR);
  return { place: { regency, puskesmas, posyandu }, rest };
}

export class SyncStatus {
  constructor(
    private readonly redis: Redis,
    private readonly config: Config,
    private readonly keys: StoreKeys,
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
    const pipe = this.redis.pipeline();
    pipe.hgetall(this.keys.states(upstream));
    pipe.hgetall(this.keys.lastSynced(upstream));
    pipe.hgetall(this.keys.latency(upstream));
    for (const d of dates) pipe.hgetall(this.keys.day(upstream, d));
    const results = (await pipe.exec()) ?? [];
    const [states, last, latency, ...dayMaps] = results.map(([err, value]) => {
      if (err) throw err;
      return value as Record<string, string>;
    }) as [Record<string, string>, Record<string, string>, Record<string, string>, ...Array<Record<string, string>>];

    // posyandu → its counts and last sync, for the places in scope
    const byPosyandu = new Map<string, { place: Place; counts: Counts; lastSyncedAt?: string }>();
    const entry = (place: Place) => {
      let e = byPosyandu.get(place.posyandu);
      if (!e) byPosyandu.set(place.posyandu, (e = { place, counts: emptyCounts() }));
      return e;
    };
    for (const [field, value] of Object.entries(states)) {
      const { place, rest } = parsePlace(field);
      const state = rest[0] as UpstreamState;
      if (!covers(place) || !UPSTREAM_STATES.includes(state)) continue;
      entry(place).counts[state] += Number(value);
    }
    for (const [field, at] of Object.entries(last)) {
      const { place } = parsePlace(field);
      if (covers(place)) entry(place).lastSyncedAt = at;
    }

    const oldest = await this.oldestUnsynced(upstream, [...byPosyandu.values()].filter((e) => unsyncedOf(e.counts) > 0).map((e) => e.place.posyandu));

    const buckets = new Array<number>(LATENCY_BUCKETS.length).fill(0);
    for (const [field, value] of Object.entries(latency)) {
      const { place, rest } = parsePlace(field);
      const b = Number(rest[0]) - 1;
      if (covers(place) && b >= 0 && b < buckets.length) buckets[b]! += Number(value);
    }

    const trend = dates.map((date, i) => {
      const day = { date, accepted: 0, synced: 0, failed: 0 };
      for (const [field, value] of Object.entries(dayMaps[i] ?? {})) {
        const { place, rest } = parsePlace(field);
        const event = rest[0] as 'accepted' | 'synced' | 'failed';
        if (covers(place) && event in day) day[event] += Number(value);
      }
      return day;
    });

    return { upstream, ...this.tree(byPosyandu, oldest, now), latencySeconds: percentiles(buckets), days: trend };
  }

  /** The oldest unsynced record's acceptance time, per posyandu (one small read each). */
  private async oldestUnsynced(upstream: string, posyandu: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (posyandu.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const p of posyandu) pipe.zrange(this.keys.pending(upstream, p), 0, 0, 'WITHSCORES');
    const results = (await pipe.exec()) ?? [];
    results.forEach(([err, value], i) => {
      const score = !err && Array.isArray(value) ? Number(value[1]) : NaN;
      if (!Number.isNaN(score)) out.set(posyandu[i]!, score);
    });
    return out;
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
    for (const a of all) a.health = healthOf(a, now);
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

function healthOf(a: AreaStatus, now: number): Health {
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
