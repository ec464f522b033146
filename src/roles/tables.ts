import { readHistoryRetention, type HistoryRetention } from '../sync/subject-history.js';
import { readHealthRules, type HealthRules } from '../sync/sync-status.js';
import { deepFreeze } from '../tables/read-table.js';
import { readWithdrawals, type Withdrawals } from '../upstream/corrections.js';

/**
 * The tables under mappings/ that the process roles hand to what they build, read and checked once
 * at start-up (a broken file stops the process with its name and the place) and frozen. Each table's
 * shape and check is owned by the code that uses it; this only reads them all, in one place.
 */
export interface Tables {
  historyRetention: HistoryRetention;
  syncHealth: HealthRules;
  /** how a correction withdraws each resource type (entered-in-error.json) */
  withdrawals: Withdrawals;
}

export function loadTables(): Tables {
  return deepFreeze({ historyRetention: readHistoryRetention(), syncHealth: readHealthRules(), withdrawals: readWithdrawals() });
}
