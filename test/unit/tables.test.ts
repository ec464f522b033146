import t from 'tap';
import { loadTables } from '../../src/roles/tables.js';
import { readHealthRules } from '../../src/sync/sync-status.js';

t.test('the tables the roles hand down are read once and frozen all the way down', async (t) => {
  const tables = loadTables();
  t.ok(Object.isFrozen(tables), 'the set');
  t.equal(loadTables(), tables, 'read once: the CLI and compose() get the same tables');
  t.ok(Object.isFrozen(tables.syncHealth.problemStates), 'a list inside a table');
  t.throws(() => (tables.syncHealth.problemStates as string[]).push('synced'), TypeError);
  t.same(tables.syncHealth, readHealthRules(), 'what the file says');
  t.ok(tables.historyRetention.weighingMonthsKept >= 1);
  t.ok(Object.isFrozen(tables.withdrawals.withdraw.Observation), 'a withdrawal rule');
});
