import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import type pg from 'pg';
import type { Config } from '../config/types.js';
import { secretIn } from '../runtime/data-dir.js';
import { dropExpiredReplayTasks, PgReplayTasks } from '../sync/pg/pg-replay-tasks.js';
import { dropExpiredHistory, PgSubjectHistory } from '../sync/pg/pg-subject-history.js';
import type { ReplayTaskStore } from '../sync/replay-tasks.js';
import type { Expiring } from '../sync/retention.js';
import type { StoreKeys } from '../sync/store/keys.js';
import { RedisReplayTasks } from '../sync/store/redis-replay-tasks.js';
import { RedisSubjectHistory } from '../sync/store/redis-subject-history.js';
import type { HistoryRetention, SubjectHistoryStore } from '../sync/subject-history.js';

// The stores beside the ledger (a person's history, the bulk replay tasks), made here and nowhere
// else. They live where the ledger does (ledger.store): compose() names the place once
// (Parts.besideLedger), so moving them to PostgreSQL is that one line.

/** Where the stores beside the ledger keep their data. */
export type BesideLedger = { kind: 'redis'; redis: Redis | Cluster; keys: StoreKeys } | { kind: 'postgres'; pool: pg.Pool };

/** What Gerbang remembers of each person (serve only: the workers do not judge records). */
export function subjectHistoryStore(where: BesideLedger, config: Config, retention: HistoryRetention): SubjectHistoryStore {
  const secret = historySecret(config);
  return where.kind === 'postgres' ? new PgSubjectHistory(where.pool, secret, retention) : new RedisSubjectHistory(where.redis, secret, where.keys, retention);
}

/** The bulk replay tasks (their jobs are in Redis whatever the store). */
export function replayTaskStore(where: BesideLedger): ReplayTaskStore {
  return where.kind === 'postgres' ? new PgReplayTasks(where.pool) : new RedisReplayTasks(where.redis, where.keys);
}

/** What the retention sweep deletes once expired: nothing in Redis, which expires its keys itself. */
export function expiringStores(where: BesideLedger): Expiring[] {
  if (where.kind === 'redis') return [];
  const { pool } = where;
  return [
    { name: 'subject history', dropExpired: () => dropExpiredHistory(pool) },
    { name: 'replay tasks', dropExpired: () => dropExpiredReplayTasks(pool) },
  ];
}

/** security.historyKey, or the one generated into the data directory. */
function historySecret(config: Config): string {
  return config.security.historyKey ?? secretIn(join(config.dataDir, 'history.key'));
}
