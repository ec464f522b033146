// The status summary with a small and a large ledger (BENCH_SUMMARY_SMALL, 10,000, and
// BENCH_SUMMARY_LARGE, 1,000,000 records): GET /v1/sync/summary must not grow with the records,
// since it reads counts kept as records move. PostgreSQL only: its ledger is filled by SQL
// (bench/pg-ledger-fill.ts); a Redis ledger of a million records would take gigabytes of RAM to
// fill through the API.
import { fillLedger, syntheticFacilities } from '../pg-ledger-fill.js';
import { stateCounts, summaryMedianMs } from './api.js';
import { gatewayConfig, startGateway } from './children.js';
import { schemaBytes, type Stores } from './store.js';

const dist = (m: string) => import(new URL(`../../dist/${m}`, import.meta.url).href);

const SMALL = Number(process.env.BENCH_SUMMARY_SMALL ?? 10_000);
const LARGE = Number(process.env.BENCH_SUMMARY_LARGE ?? 1_000_000);
// The backlog stays this size whatever the ledger's: what grows is the synced history.
const UNSETTLED = Math.min(SMALL, 300);
const CALLS = 50;
// Both ledgers over the same days: the summary's cost is the count rows of the places and days it
// shows (every posyandu on every day it reports), which a district fills at any size; 10,000
// records spread over 60 days at 400 posyandu would leave most of those rows empty (0.4 records a
// posyandu-day) and measure a sparser summary, not a smaller ledger. Ten days at 400 posyandu are
// filled (about 2.5 records each) by the small ledger already.
const DAYS = 10;

export interface SummaryFigures {
  line: string;
  failed: boolean;
  skipped?: string;
  small?: { records: number; medianMs: number; p90Ms: number; bytes: number };
  large?: { records: number; medianMs: number; p90Ms: number; bytes: number };
  ratio?: number;
  /** PostgreSQL bytes per synthetic record (one version, one upstream, payload dropped) */
  bytesPerSyntheticRecord?: number;
}

export async function benchSummary(stores: Stores, upstreamUrl: string): Promise<SummaryFigures> {
  if (stores.kind !== 'postgres') {
    const skipped = 'the store is redis: the summary with 10,000 and 1,000,000 records is measured on PostgreSQL only (BENCH_STORE=postgres)';
    return { line: `summary skipped: ${skipped}`, failed: false, skipped };
  }
  console.error(`bench: summary: filling ${SMALL} synthetic records`);
  const { migrate } = (await dist('sync/pg/migrate.js')) as typeof import('../../src/sync/pg/migrate.js');
  const { LATENCY_BUCKETS } = (await dist('sync/aggregates.js')) as typeof import('../../src/sync/aggregates.js');
  const bounds = LATENCY_BUCKETS.filter((b) => Number.isFinite(b));
  const store = await stores.fresh();
  const pool = store.pool();
  await migrate(pool);
  const upstream = 'fast';
  // 40 puskesmas of 10 posyandu: a district's registry; the same for both sizes.
  const { facilities, places } = syntheticFacilities(40, 10);
  await fillLedger(pool, { upstream, places, from: 0, to: SMALL, unsettledBelow: UNSETTLED, days: DAYS }, bounds);
  await settle(pool);
  const files = await gatewayConfig(store, { upstreams: [{ name: upstream, kind: 'fhir', baseUrl: upstreamUrl }], facilities, delivery: { runWorker: false } });
  const gw = await startGateway(files);
  try {
    const total = async () => Object.values(await stateCounts(gw.url, upstream)).reduce((a, b) => a + b, 0);
    const smallTotal = await total();
    const small = { records: SMALL, ...(await summaryMedianMs(gw.url, CALLS)) };
    console.error(`bench: summary: filling to ${LARGE} synthetic records`);
    const started = performance.now();
    await fillLedger(pool, { upstream, places, from: SMALL, to: LARGE, unsettledBelow: UNSETTLED, days: DAYS }, bounds);
    console.error(`bench: summary: filled in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    await settle(pool);
    const largeTotal = await total();
    const large = { records: LARGE, ...(await summaryMedianMs(gw.url, CALLS)) };
    const bytesPerSyntheticRecord = (await schemaBytes(pool)) / LARGE;
    const ratio = large.medianMs / small.medianMs;
    const failed = smallTotal !== SMALL || largeTotal !== LARGE;
    const counted = failed ? ` (THE SUMMARY COUNTED ${smallTotal} and ${largeTotal})` : '';
    const line = `summary GET /v1/sync/summary, median of ${CALLS}: ${small.medianMs.toFixed(1)} ms with ${SMALL.toLocaleString('en')} records, ${large.medianMs.toFixed(1)} ms with ${LARGE.toLocaleString('en')} (${places.length} posyandu over the same ${DAYS} days, ${UNSETTLED} unsettled in both) | ratio ${ratio.toFixed(2)} (target about 1: must not grow)${counted} | PostgreSQL ${(bytesPerSyntheticRecord / 1024).toFixed(2)} KiB per synthetic record (payload dropped)`;
    return { line, failed, small, large, ratio, bytesPerSyntheticRecord };
  } finally {
    await gw.stop();
    files.cleanup();
    await store.close();
  }
}

/**
 * After a bulk fill, the server's own work on it (the checkpoint writing a gigabyte of new pages,
 * autovacuum visiting the new rows) is done before the summary is timed, so that it does not share
 * the two cores with the calls measured: a running ledger does that work a little at a time.
 */
async function settle(pool: import('pg').Pool): Promise<void> {
  await pool.query('VACUUM (ANALYZE)');
  await pool.query('CHECKPOINT');
}
