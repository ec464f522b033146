import t from 'tap';
import { withChanges, type RecordLike } from '../fixtures/records.js';
import { checkEngine, postRecord, recordOfKind, sandboxCounts, startProcessStack, untilAllSynced, type Posted } from '../helpers/process-stack.js';

// Issue 15, scaled out: two API processes (no worker) and two worker processes share one
// PostgreSQL ledger and one Redis. Records of every kind, of many people, sent to both API
// processes at once, with corrections and the same record sent to both at the same moment: each
// is counted once in the ledger and its resources are at the FHIR engine exactly once.

const RECORDS = 16;
const CORRECTED = [0, 3, 7]; // anthropometry and screening: a new weight
const DOUBLED = [1, 2, 6]; // sent to both API processes at the same moment, twice over

const startup = Date.now();
// The crash tests' 2 s push lease, which a push of three transactions outlives on a busy machine:
// the lease is renewed while the push runs, so a correction still waits for it (correction-lease).
const stack = await startProcessStack({ apis: 2, workers: 2 });
const startedIn = Date.now() - startup;
const [a, b] = stack.apis;
if (!a || !b) throw new Error('two API processes');

t.test('two API and two worker processes: every record once in the ledger, every resource once at the engine', async (t) => {
  const started = Date.now();
  const records = Array.from({ length: RECORDS }, (_, n) => recordOfKind(n, 'S'));
  // the first versions, alternating between the API processes, all at once
  const first = await Promise.all(records.map((r, n) => postRecord(n % 2 === 0 ? a : b, r)));
  // the same records again on both processes at the same moment: nothing new
  const doubled = await Promise.all(DOUBLED.flatMap((n) => [postRecord(a, records[n] as RecordLike), postRecord(b, records[n] as RecordLike)]));
  // corrections (a new version), to the process that did not take the first
  const latest = [...records];
  const corrections: Posted[] = await Promise.all(
    CORRECTED.map((n) => {
      latest[n] = withChanges({ weightKg: (records[n]?.weightKg as number) + 0.5 }, records[n]);
      return postRecord(n % 2 === 0 ? b : a, latest[n] as RecordLike);
    }),
  );
  const acceptedIn = Date.now() - started;

  t.same(first.filter((p) => p.status !== 202).map((p) => p.body), [], `all ${RECORDS} first versions accepted`);
  t.same(first.map((p) => p.body.outcome), Array(RECORDS).fill('created'));
  t.same(doubled.map((p) => p.status), Array(doubled.length).fill(202), 'records sent twice are answered 202');
  t.same(doubled.map((p) => p.body.outcome), Array(doubled.length).fill('duplicate'), 'and are duplicates');
  t.same(doubled.map((p) => p.body.id), DOUBLED.flatMap((n) => [first[n]?.body.id, first[n]?.body.id]), 'of the same record');
  t.same(corrections.map((p) => [p.status, p.body.outcome, p.body.version]), CORRECTED.map(() => [202, 'new-version', 2]), 'corrections are new versions');
  t.same(corrections.map((p) => p.body.id), CORRECTED.map((n) => first[n]?.body.id), 'of the same records');
  const ids = new Set(first.map((p) => p.body.id as string));
  t.equal(ids.size, RECORDS, 'one id per record');

  await untilAllSynced(() => a, ids, 90_000);
  const syncedIn = Date.now() - started;
  const counts = await sandboxCounts(b);
  t.same(counts, { queued: 0, sending: 0, retrying: 0, 'waiting-identity': 0, synced: RECORDS, failed: 0 }, 'the status summary counts each record once');
  const checking = Date.now();
  const resources = await checkEngine(t, a, stack.fhir, latest);
  const transactions = stack.fhir.requests.filter((r) => r.method === 'POST').length;
  t.comment(`processes started in ${startedIn} ms; ${RECORDS} records (+${doubled.length} doubles, ${corrections.length} corrections) accepted in ${acceptedIn} ms, all synced after ${syncedIn} ms; ${resources} resources checked, ${transactions} transactions; checked in ${Date.now() - checking} ms`);
});
