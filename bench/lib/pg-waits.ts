// BENCH_PG_WAITS=1: what the gateway's PostgreSQL connections are doing while a phase is measured,
// sampled from pg_stat_activity every 10 ms (active ones: their wait event, or "cpu"; idle ones in
// a transaction: waiting on the client; idle ones: nothing to do). Where the ledger's time goes
// (docs/performance.md), without pg_stat_statements.
import type pg from 'pg';

export interface WaitSampler {
  /** the share of samples in each state, largest first, as one line */
  stop(): Promise<string>;
}

export function sampleWaits(pool: pg.Pool): WaitSampler {
  const seen = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const res = await pool.query<{ w: string; n: string }>(
        `SELECT CASE WHEN state = 'active' THEN coalesce(wait_event_type || ':' || wait_event, 'cpu') ELSE state END AS w, count(*) AS n
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' GROUP BY 1`,
      );
      for (const r of res.rows) seen.set(r.w, (seen.get(r.w) ?? 0) + Number(r.n));
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const total = [...seen.values()].reduce((a, b) => a + b, 0) || 1;
      return [...seen.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([w, n]) => `${w} ${((100 * n) / total).toFixed(0)}%`)
        .join(', ');
    },
  };
}
