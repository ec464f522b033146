import type pg from 'pg';
import { TASK_KEPT_MS, type ReplayTask, type ReplayTaskStore } from '../replay-tasks.js';

// Replay tasks in PostgreSQL (table replay_tasks), with the expiry of the Redis ones
// (replay-tasks.ts taskExpiry): a read leaves an expired task out, and the retention sweep
// deletes them (dropExpired).

// The table's id is a uuid: any other id names no task (and would be a type error in SQL);
// lower case only, as the Redis key is.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const KEPT = `make_interval(secs => ${TASK_KEPT_MS / 1000})`;

interface Row {
  id: string;
  status: ReplayTask['status'];
  requested_by: string;
  created_at: Date;
  filter: ReplayTask['filter'];
  matched: number | null;
  replayed: number | null;
  finished_at: Date | null;
}

export class PgReplayTasks implements ReplayTaskStore {
  constructor(private readonly pool: pg.Pool) {}

  async save(task: ReplayTask): Promise<void> {
    await this.pool.query(
      `INSERT INTO replay_tasks (id, status, requested_by, created_at, filter, matched, replayed, finished_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, requested_by = excluded.requested_by, created_at = excluded.created_at,
         filter = excluded.filter, matched = excluded.matched, replayed = excluded.replayed, finished_at = excluded.finished_at`,
      [task.id, task.status, task.requestedBy, task.createdAt, JSON.stringify(task.filter), task.matched ?? null, task.replayed ?? null, task.finishedAt ?? null],
    );
  }

  async get(id: string): Promise<ReplayTask | undefined> {
    if (!UUID.test(id)) return undefined;
    const { rows } = await this.pool.query<Row>(`SELECT * FROM replay_tasks WHERE id = $1 AND coalesce(finished_at, created_at) + ${KEPT} > now()`, [id]);
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.id,
      status: r.status,
      requestedBy: r.requested_by,
      createdAt: r.created_at.toISOString(),
      filter: r.filter,
      ...(r.matched === null ? {} : { matched: r.matched }),
      ...(r.replayed === null ? {} : { replayed: r.replayed }),
      ...(r.finished_at === null ? {} : { finishedAt: r.finished_at.toISOString() }),
    };
  }

  dropExpired(): Promise<number> {
    return dropExpiredReplayTasks(this.pool);
  }
}

/** Deletes the tasks past their week; returns how many. */
export async function dropExpiredReplayTasks(pool: pg.Pool): Promise<number> {
  const res = await pool.query(`DELETE FROM replay_tasks WHERE coalesce(finished_at, created_at) + ${KEPT} <= now()`);
  return res.rowCount ?? 0;
}
