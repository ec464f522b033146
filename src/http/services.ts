import type { Config } from '../config/types.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { BulkReplays } from '../sync/bulk-replay.js';
import type { Ledger } from '../sync/ledger.js';
import type { RecordSearch } from '../sync/record-search.js';
import type { StorePressure } from '../sync/store-pressure.js';
import type { SubjectHistoryStore } from '../sync/subject-history.js';
import type { SyncStatus } from '../sync/sync-status.js';
import type { Upstream } from '../upstream/upstream.js';

/** What the HTTP layer is given; built by `gerbang serve` (src/roles/serve.ts), or by a test. */
export interface Services {
  config: Config;
  ledger: Ledger;
  history: SubjectHistoryStore;
  pressure?: StorePressure;
  upstreams: Upstream[];
  status: SyncStatus;
  search: RecordSearch;
  replays: BulkReplays;
  metrics: GatewayMetrics;
}
