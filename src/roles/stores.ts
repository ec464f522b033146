import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import { secretIn } from '../runtime/data-dir.js';
import type { ReplayTaskStore } from '../sync/replay-tasks.js';
import type { Expiring } from '../sync/retention.js';
import type { StoreKeys } from '../sync/store/keys.js';
import { RedisReplayTasks } from '../sync/store/redis-replay-tasks.js';
import { RedisSubjectHistory } from '../sync/store/redis-subject-history.js';
import type { HistoryRetention, SubjectHistoryStore } from '../sync/subject-history.js';

// The stores beside the ledger, made here and nowhere else, so that moving them to PostgreSQL with
// the ledger (ledger.store) is one line in each function below: the PostgreSQL classes take the
// pool in place of Redis and keys. Redis today.
//
//   history:       new PgSubjectHistory(pool, historySecret(config), retention)   (src/sync/pg/pg-subject-history.ts)
//   replay tasks:  new PgReplayTasks(pool)                                        (src/sync/pg/pg-replay-tasks.ts)
//   expiring:      [{ name: 'subject history', dropExpired: () => history.dropExpired() }, { name: 'replay tasks', ... }]

/** What Gerbang remembers of each person (serve only: the workers do not judge records). */
export function subjectHistoryStore(config: Config, redis: Redis, keys: StoreKeys, retention: HistoryRetention): SubjectHistoryStore {
  return new RedisSubjectHistory(redis, historySecret(config), keys, retention);
}

/** The bulk replay tasks (their jobs are in Redis whatever the store). */
export function replayTaskStore(redis: Redis, keys: StoreKeys): ReplayTaskStore {
  return new RedisReplayTasks(redis, keys);
}

/** What the retention sweep deletes once expired: nothing while the stores are Redis, which expires keys itself. */
export function expiringStores(): Expiring[] {
  return [];
}

/** security.historyKey, or the one generated into the data directory. */
export function historySecret(config: Config): string {
  return config.security.historyKey ?? secretIn(join(config.dataDir, 'history.key'));
}
