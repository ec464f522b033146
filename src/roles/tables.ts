import { readHistoryRetention, type HistoryRetention } from '../sync/subject-history.js';
import { readHealthRules, type HealthRules } from '../sync/sync-status.js';
import { deepFreeze } from '../tables/read-table.js';
import { loadDefinedTables } from '../tables/registry.js';
import { readWithdrawals, type Withdrawals } from '../upstream/corrections.js';
// The modules that define the tables the pure code reads (src/tables/registry.ts): imported here so
// that every definition is known when loadTables() reads them. A module that defines a table and is
// missing here fails at its first use with a message that says so.
import '../errors/messages.js';
import '../fhir/anthropometry-table.js';
import '../fhir/map-anc.js';
import '../fhir/map-immunization.js';
import '../fhir/profile-check.js';
import '../fhir/terminology.js';
import '../indicators/growth/bmi-for-age-5-19.js';
import '../indicators/growth/lms-tables.js';
import '../indicators/growth/nutrition-status.js';
import '../indicators/growth/weight-gain.js';
import '../indicators/immunization-schedule.js';
import '../indicators/screening-risk.js';
import '../records/adapters/registry.js';
import '../records/checks.js';
import '../records/nik.js';
import '../records/vaccine-name.js';

/**
 * The tables under mappings/ and profiles/, read and checked once at start-up (a broken file stops
 * the process with its name and the place) and frozen. Each table's shape and check is owned by the
 * code that uses it; this only reads them all, in one place. The three below are handed to what
 * the roles build; the others are read by the pure code through their accessors.
 */
export interface Tables {
  historyRetention: HistoryRetention;
  syncHealth: HealthRules;
  /** how a correction withdraws each resource type (entered-in-error.json) */
  withdrawals: Withdrawals;
}

let loaded: Tables | undefined;

/** Reads the tables on the first call (the CLI's start, then compose() gets the same ones). */
export function loadTables(): Tables {
  if (loaded) return loaded;
  loadDefinedTables();
  loaded = deepFreeze({ historyRetention: readHistoryRetention(), syncHealth: readHealthRules(), withdrawals: readWithdrawals() });
  return loaded;
}
