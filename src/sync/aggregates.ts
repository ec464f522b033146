// Counts kept as records move, so that the status API answers from a few small hashes whatever the
// number of records (a district has hundreds of posyandu, a year has millions of records). Every
// state change of a record at an upstream goes through `transition` (store/scripts/transition.lua),
// inside the same script that writes the state, so the counts never drift from the states. Their
// keys, per upstream, are in store/keys.ts (states, day, lastSynced, latency, pending, backlog,
// problems, inQueue), and for every record byPosyandu and purge.

/** Upper bounds (seconds) of the latency buckets; p50/p95 are reported as "at most" these. */
export const LATENCY_BUCKETS = [5, 15, 30, 60, 300, 900, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, Infinity];

// Day buckets live a little over a year: the trend shows weeks, a year is there for reports.
export const DAY_TTL_SECONDS = 400 * 86_400;

// The status API counts days as posyandu do: most are in WIB. A WITA or WIT posyandu's record
// synced just after midnight local time counts on the previous day; the trend is a trend.
const REPORTING_OFFSET_MS = 7 * 3_600_000;

/** The reporting day (YYYY-MM-DD, WIB) of a moment. */
export function reportingDay(ms: number): string {
  return new Date(ms + REPORTING_OFFSET_MS).toISOString().slice(0, 10);
}
