import type { Config } from '../config/types.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { AdapterRegistry } from '../records/adapters/registry.js';
import type { BulkReplays } from '../sync/bulk-replay.js';
import type { RecordBudget } from './auth/record-budget.js';
import type { Ledger } from '../sync/ledger.js';
import type { RecordSearch } from '../sync/record-search.js';
import type { StorePressure } from '../sync/store-pressure.js';
import type { SubjectHistoryStore } from '../sync/subject-history.js';
import type { SyncStatus } from '../sync/sync-status.js';
import type { Upstream } from '../upstream/upstream.js';

/** What the HTTP layer is given; built by `gerbang serve` (src/roles/serve.ts), or by a test. */
export interface Services {
  config: Config;
  /** the adapters served, reloaded by POST /v1/admin/adapters/$reload; absent: the shipped ones */
  adapters?: AdapterRegistry;
  ledger: Ledger;
  /** the stores readiness asks, by name (absent: the ledger's, as `redis`) */
  readiness?: Array<{ name: string; ping(): Promise<void> }>;
  history: SubjectHistoryStore;
  pressure?: StorePressure;
  /** records per key and minute; absent without API keys (local use: nothing to count by) */
  budget?: RecordBudget;
  upstreams: Upstream[];
  status: SyncStatus;
  search: RecordSearch;
  replays: BulkReplays;
  metrics: GatewayMetrics;
}
