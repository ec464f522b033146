import t from 'tap';
import type { Issue } from '../../src/errors/gerbang-error.js';
import { historyPlaces, shownTo, WITHHELD } from '../../src/ingest/history-shown.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { validAnthropometry, validImmunization } from '../fixtures/records.js';

const weighing = validAnthropometry as unknown as CanonicalRecord; // 2025-11-05
const dose = validImmunization as unknown as CanonicalRecord;
const w = (date: string, posyandu?: string, recordKey = `k.${date}`) => ({ date, weightKg: 9, status: 'N' as const, recordKey, ...(posyandu ? { posyandu } : {}) });

t.test('a weighing reads last month when there is one, else every earlier month', async (t) => {
  t.same(historyPlaces(weighing, { weighings: { '2025-10': w('2025-10-05', 'A'), '2025-08': w('2025-08-05', 'B') } }, 'own'), ['A'], 'October decides; August is not read');
  t.same(historyPlaces(weighing, { weighings: { '2025-09': w('2025-09-05', 'A'), '2025-08': w('2025-08-05', 'B') } }, 'own'), ['A', 'B'], 'no October: every earlier month tells O from B');
  t.same(historyPlaces(weighing, { weighings: { '2025-12': w('2025-12-05', 'B'), '2025-11': w('2025-11-01', 'B') } }, 'own'), [], 'this month and later months are not read');
  t.same(historyPlaces(weighing, { weighings: { '2025-10': w('2025-10-05', 'B', 'own') } }, 'own'), [], "the record's own earlier version is not history");
  t.same(historyPlaces(weighing, { weighings: { '2025-10': w('2025-10-05') } }, 'own'), [''], 'an entry without a place');
  t.same(historyPlaces(dose, { doses: { 'dpt-hb-hib.1': { date: '2025-09-20', recordKey: 'x', posyandu: 'B' }, 'bcg.1': { date: '2025-08-15', recordKey: 'y', posyandu: 'A' } } }, 'own'), ['A', 'B'], 'a dose reads every other dose');
});

t.test('shown whole to a scope that covers every place, withheld otherwise', async (t) => {
  const answer = {
    indicators: { growth: { zScores: [1], weightGain: { status: 'N', gainGrams: 500 } } },
    warnings: [{ key: 'nik.disagrees-sex', severity: 'warning' }] satisfies Issue[],
  };
  t.equal(shownTo(answer, ['A'], (p) => p === 'A'), answer);
  t.equal(shownTo(answer, [''], () => true), answer, 'an unlimited scope covers an entry without a place');
  const other = shownTo(answer, ['A', 'B'], (p) => p === 'A');
  t.same(other.indicators, { growth: { zScores: [1], weightGain: WITHHELD } });
  t.same(other.warnings.map((i) => i.key), ['nik.disagrees-sex', 'record.history-outside-scope']);
  const immunization = { indicators: { immunization: { antigen: 'dpt-hb-hib', dose: 2, doseFrom: 'history', timing: 'on-time', given: true, status: { complete: false } } }, warnings: [{ key: 'vaccine.dose-from-history', severity: 'warning' }] satisfies Issue[] };
  const seen = shownTo(immunization, ['B'], (p) => p === 'A');
  t.same(seen.indicators.immunization, { antigen: 'dpt-hb-hib', dose: WITHHELD, doseFrom: 'history', timing: WITHHELD, given: true, status: WITHHELD });
  t.same(seen.warnings.map((i) => i.key), ['record.history-outside-scope'], 'the warning that quotes the dose is left out');
});
