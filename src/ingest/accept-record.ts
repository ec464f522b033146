import { randomUUID } from 'node:crypto';
import type { Config } from '../config/types.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { GerbangError, type Issue, storeUnavailable } from '../errors/gerbang-error.js';
import type { Ledger } from '../sync/ledger.js';
import type { StorePressure } from '../sync/store-pressure.js';
import type { Memory, SubjectHistoryStore } from '../sync/subject-history.js';
import type { Indicators } from '../fhir/map-record.js';
import type { CanonicalRecord } from '../records/schemas/index.js';
import type { Adapted } from '../records/adapters/adapter.js';
import type { AdapterRegistry } from '../records/adapters/registry.js';
import { contentHash } from './content-hash.js';
import type { PreparedRecord } from './prepare-record.js';

export interface IngestDeps {
  config: Config;
  /** the adapters the process serves; absent: the shipped ones */
  adapters?: AdapterRegistry;
  ledger: Ledger;
  history: SubjectHistoryStore;
  /** absent: no high-water mark (tests that build the services themselves) */
  pressure?: StorePressure;
  /** the caller's scope: whether it may post for this posyandu (absent: no limit) */
  mayWrite?: (posyandu: string) => boolean;
  /** counts what was taken and what was refused (absent: not counted) */
  metrics?: Pick<GatewayMetrics, 'recordAccepted' | 'recordRefused'>;
}

export interface Accepted {
  id: string;
  version: number;
  outcome: 'created' | 'new-version' | 'duplicate';
  warnings: Issue[];
  indicators: Record<string, unknown>;
  /** where the history behind the history-derived indicators was recorded (history-shown.ts) */
  historyFrom: string[];
}

/**
 * Whether the caller may post what a record says about its place, asked before anything of the
 * record is read from the store: a record for a posyandu of the registry outside the key's scope is
 * refused as that (403), whatever else is wrong with it, and is never judged against the person's
 * history recorded elsewhere. A posyandu the registry does not know is the record's own problem
 * (422), which prepare names.
 */
export function outOfScope(record: unknown, deps: Pick<IngestDeps, 'config' | 'mayWrite'>): GerbangError | undefined {
  const posyandu = (record as { posyandu?: unknown } | null)?.posyandu;
  if (!deps.mayWrite || typeof posyandu !== 'string' || !Object.hasOwn(deps.config.facilities.posyandu, posyandu) || deps.mayWrite(posyandu)) return undefined;
  return new GerbangError('auth.out-of-scope', [{ key: 'auth.out-of-scope', severity: 'error', path: 'posyandu', params: { posyandu } }]);
}

/** Whether the person's history may be read for this record: only for a place the caller covers. */
export function mayReadHistory(record: unknown, deps: Pick<IngestDeps, 'mayWrite'>): boolean {
  const posyandu = (record as { posyandu?: unknown } | null)?.posyandu;
  return !deps.mayWrite || (typeof posyandu === 'string' && deps.mayWrite(posyandu));
}

/**
 * One prepared record's way in (prepareItem has judged it, and outOfScope has let it through): the
 * ledger, which in the same atomic step puts it in the inbox the dispatcher turns into one job per
 * upstream, then what its person's history keeps. A duplicate changes nothing. The upstream push
 * is always asynchronous.
 */
export async function acceptRecord(body: unknown, prepared: PreparedRecord, source: string, deps: IngestDeps, now = new Date(), adapted?: Adapted): Promise<Accepted> {
  const { config, ledger, history } = deps;
  // Refused before any write: a full store is not made fuller, and the app hears it at once.
  if (await deps.pressure?.full()) throw new GerbangError('store.full', [], { retryAfterSeconds: STORE_FULL_RETRY_SECONDS });
  const posyandu = config.facilities.posyandu[prepared.record.posyandu];
  const puskesmas = posyandu ? config.facilities.puskesmas[posyandu.puskesmas] : undefined;
  const upstreams = config.upstreams.map((u) => u.name);

  const result = await storeCall(() =>
    ledger.accept({
      id: randomUUID(),
      source,
      record: prepared.record,
      contentHash: contentHash(prepared.record),
      bundle: prepared.bundle,
      indicators: prepared.indicators,
      warnings: prepared.warnings,
      historyFrom: prepared.historyFrom,
      ...(adapted ? { provenance: adapted.provenance } : {}),
      subject: history.subjectOf(body),
      posyandu: prepared.record.posyandu,
      puskesmas: posyandu?.puskesmas ?? '',
      regency: puskesmas?.regency ?? '',
      receivedAt: now,
      upstreams,
    }),
  );

  if (result.outcome === 'place-changed') throw placeChanged(prepared.record, result.storedPosyandu, deps.mayWrite);

  const memory = memoryOf(prepared.record, prepared.indicators, source);
  if (memory && result.outcome !== 'duplicate') await storeCall(() => history.remember(body, memory));
  return { ...result, warnings: prepared.warnings, indicators: prepared.indicators, historyFrom: prepared.historyFrom };
}

/** What a record adds to what Gerbang remembers of the person: a weighing, or a dose given, with where it was recorded. */
function memoryOf(record: CanonicalRecord, indicators: Indicators, source: string): Memory | undefined {
  const recordKey = `${source}.${record.recordId}`;
  const date = record.occurredAt.slice(0, 10);
  if (record.kind === 'anthropometry' && record.weightKg !== undefined) {
    const gain = (indicators.growth as { weightGain?: { status: 'N' | 'T' | 'O' | 'B' } } | undefined)?.weightGain;
    if (gain) return { what: 'weighing', field: date.slice(0, 7), entry: { date, weightKg: record.weightKg, status: gain.status, recordKey, posyandu: record.posyandu } };
  }
  const dose = indicators.immunization as { antigen: string; dose: number; given: boolean } | undefined;
  if (record.kind === 'immunization' && dose?.given) return { what: 'doses', field: `${dose.antigen}.${dose.dose}`, entry: { date, recordKey, posyandu: record.posyandu } };
  return undefined;
}

/**
 * A copy of a record for another posyandu. A caller whose scope covers the record's own place
 * hears where it is; any other gets a 403 that says only that the id is taken outside its scope
 * (the app must use its own ids), not where, not since when, not whose.
 */
function placeChanged(record: CanonicalRecord, storedPosyandu: string, mayWrite: IngestDeps['mayWrite']): GerbangError {
  if (mayWrite && !mayWrite(storedPosyandu)) {
    return new GerbangError('auth.out-of-scope', [{ key: 'record.id-out-of-scope', severity: 'error', path: 'recordId', params: { recordId: record.recordId } }]);
  }
  return new GerbangError('record.place-changed', [
    { key: 'record.place-changed', severity: 'error', path: 'posyandu', params: { recordId: record.recordId, posyandu: record.posyandu, stored: storedPosyandu } },
  ]);
}

// Draining a backlog takes minutes, not seconds: an app that waits half a minute does not add to it.
const STORE_FULL_RETRY_SECONDS = 30;

/** Redis errors at ingest are an outage of our store: a fast 503 the app can retry. */
export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw storeUnavailable(err);
  }
}
