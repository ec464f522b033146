import t from 'tap';
import { kbmTable, minimumGain, twoT, weightGainStatus, type WeighingHistory } from '../../src/indicators/growth/weight-gain.js';

// N/T against the KBM (mappings/weight-gain-kbm.json), with O and B as the F1/SKDN report counts them.

t.test('KBM by age in completed months, from the data file', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 24, 60, 61].map(minimumGain), [undefined, 800, 900, 800, 600, 500, 400, 400, 300, 300, 200, 200, 200, undefined]);
  t.same(kbmTable().kbm.filter((r) => !r.verified).map((r) => r.fromMonth), [3, 7, 8, 11], 'the unconfirmed rows say so');
});

t.test('the pair form: previous weighing and this one', async (t) => {
  const curr = (measuredAt: string, weightKg: number, ageMonths = 9) => ({ measuredAt, weightKg, ageMonths });
  t.same(weightGainStatus(undefined, curr('2025-05-10', 8)), { status: 'B', reason: 'first weighing: nothing to compare with' });
  t.match(weightGainStatus({ measuredAt: '2025-03-08', weightKg: 7.5 }, curr('2025-05-10', 8)), { status: 'O', reason: /not weighed last month/, gainGrams: undefined }, 'a gap of two months is O, not a multiplied KBM');
  t.same(weightGainStatus({ measuredAt: '2025-04-08', weightKg: 8 }, curr('2025-05-10', 8.3)), { status: 'N', gainGrams: 300, minimumGrams: 300, reason: 'gained 300 g, at least the KBM of 300 g at 9 months' }, 'exactly the KBM is N');
  t.match(weightGainStatus({ measuredAt: '2025-04-08', weightKg: 8 }, curr('2025-05-10', 8.29)), { status: 'T', gainGrams: 290, minimumGrams: 300 });
  t.match(weightGainStatus({ measuredAt: '2025-04-08', weightKg: 8 }, curr('2025-05-10', 7.9)), { status: 'T', gainGrams: -100, reason: /^lost 100 g/ });
  t.match(weightGainStatus({ measuredAt: '2024-12-28', weightKg: 10.2 }, curr('2025-01-03', 10.4, 20)), { status: 'N', minimumGrams: 200 }, 'last month across the new year, six days apart');
  t.match(weightGainStatus({ measuredAt: '2025-04-30T09:00:00+07:00', weightKg: 3.3 }, curr('2025-05-02T09:00:00+07:00', 3.5, 0)), { status: 'O', gainGrams: 200, reason: /no KBM for age 0/ }, 'month 0 has no KBM');
  t.match(weightGainStatus({ measuredAt: '2025-04-08', weightKg: 6 }, curr('2025-05-10', 6.35, 7)), { status: 'T', gainGrams: 350, minimumGrams: 400 }, 'month 7: 400 g, so 350 g is T (see the JSON notes)');
  t.throws(() => weightGainStatus({ measuredAt: '2025-05-01', weightKg: 8 }, curr('2025-05-20', 8.4)), RangeError, 'the same month is not a previous weighing');
});

t.test('2T', async (t) => {
  t.equal(twoT('T', 'T'), true);
  t.same([twoT('N', 'T'), twoT('T', 'N'), twoT('O', 'T'), twoT(undefined, 'T'), twoT('T', 'O')], [false, false, false, false, false]);
});

t.test('the history form map-growth.ts uses', async (t) => {
  const w = (date: string, weightKg: number, status: 'N' | 'T' | 'O' | 'B' = 'N'): WeighingHistory[string] => ({ date, weightKg, status, recordKey: `r-${date}` });
  const now = { date: '2025-05-10', weightKg: 8, ageMonths: 9 };
  t.same(weightGainStatus(now, {}), { status: 'B', twoT: false }, 'first weighing');
  t.same(weightGainStatus(now, { '2025-03': w('2025-03-08', 7.5) }), { status: 'O', twoT: false }, 'not weighed last month');
  t.same(weightGainStatus({ ...now, weightKg: 8.3 }, { '2025-04': w('2025-04-08', 8) }), { status: 'N', gainGrams: 300, minimumGrams: 300, twoT: false });
  t.same(weightGainStatus({ ...now, weightKg: 7.9 }, { '2025-03': w('2025-03-05', 8.1), '2025-04': w('2025-04-08', 8, 'T') }), { status: 'T', gainGrams: -100, minimumGrams: 300, twoT: true }, 'two T in a row');
  t.equal(weightGainStatus(now, { '2025-06': w('2025-06-01', 7) }).status, 'B', 'later months do not count (a backlog arriving out of order)');
  t.equal(weightGainStatus(now, { '2025-05': w('2025-05-02', 7) }).status, 'B', "this month's own entry does not count");
});
