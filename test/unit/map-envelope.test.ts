import t from 'tap';
import type { Bundle, Condition, Encounter, Observation } from '@medplum/fhirtypes';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { fhirDateTime } from '../../src/fhir/map-envelope.js';
import { mapRecord } from '../../src/fhir/map-record.js';
import { checkBundle } from '../../src/fhir/profile-check.js';
import { timeZoneOf } from '../../src/fhir/visit-time.js';
import { prepareRecord } from '../../src/ingest/prepare-record.js';
import type { CanonicalRecord } from '../../src/records/schemas/index.js';
import { newbornAnthropometry, validAncVisit, validAnthropometry, validImmunization, validScreening, withChanges, type RecordLike } from '../fixtures/records.js';

// The visit every record hangs on (map-envelope.ts, visit-time.ts): its period and history, the
// form of its times, its diagnosis and the posyandu's time zone.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });
const later = new Date('2025-11-06T00:00:00Z');
const map = (r: RecordLike, now = later, f: Config['facilities'] = facilities): Bundle =>
  mapRecord(r as unknown as CanonicalRecord, 'app-x', f, undefined, now).bundle;
const resources = <T>(b: Bundle, type: string): T[] => (b.entry ?? []).filter((e) => e.resource?.resourceType === type).map((e) => e.resource as T);
const one = <T>(b: Bundle, type: string): T => {
  const [r] = resources<T>(b, type);
  if (!r) throw new Error(`no ${type}`);
  return r;
};
const fullUrlOf = (b: Bundle, type: string) => b.entry?.find((e) => e.resource?.resourceType === type)?.fullUrl;
const FULL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/;

const records: Record<string, RecordLike> = {
  anthropometry: validAnthropometry,
  'anthropometry, date only': newbornAnthropometry,
  'anc-visit': validAncVisit,
  immunization: validImmunization,
  screening: validScreening,
};

for (const [name, record] of Object.entries(records)) {
  t.test(`${name}: a finished visit with a real period, history and diagnosis`, async (t) => {
    const b = map(record);
    const enc = one<Encounter>(b, 'Encounter');
    const { start, end } = enc.period ?? {};
    t.match(start, FULL, 'period.start is a full date-time in UTC (10173)');
    t.match(end, FULL, 'and so is period.end');
    t.ok(Date.parse(end ?? '') > Date.parse(start ?? ''), 'end is later than start (10121)');
    t.ok(Date.parse(end ?? '') <= later.getTime(), 'nothing after the time Gerbang received it');
    t.same(
      enc.statusHistory,
      [
        { status: 'arrived', period: { start, end: start } },
        { status: 'in-progress', period: { start, end } },
        { status: 'finished', period: { start: end, end } },
      ],
      'arrived, in progress, finished, as P16__057',
    );
    t.same(enc.location?.[0]?.period, { start, end }, 'the posyandu for the whole visit');
    t.equal(enc.hospitalization?.dischargeDisposition?.coding?.[0]?.code, 'home');
    const condition = one<Condition>(b, 'Condition');
    t.same(enc.diagnosis?.map((d) => [d.condition?.reference, d.use?.coding?.[0]?.code, d.rank]), [[fullUrlOf(b, 'Condition'), 'DD', 1]]);
    t.equal(condition.encounter?.reference, fullUrlOf(b, 'Encounter'), 'the Condition names its visit');
    t.equal(condition.recordedDate, end, 'recorded when the visit ends, as P16__054');
    t.equal(condition.category?.[0]?.coding?.[0]?.code, 'encounter-diagnosis');
    t.equal(condition.code?.coding?.[0]?.system, 'http://hl7.org/fhir/sid/icd-10');
    for (const obs of resources<Observation>(b, 'Observation')) {
      t.ok(obs.effectiveDateTime && Date.parse(obs.effectiveDateTime) >= Date.parse(start ?? '') && Date.parse(obs.effectiveDateTime) <= Date.parse(end ?? ''), `${obs.code?.coding?.[0]?.code} measured inside the visit`);
      t.match(obs.issued, FULL, `${obs.code?.coding?.[0]?.code} has issued`);
    }
    t.same(checkBundle(b), [], 'meets profiles/');
  });
}

t.test('the diagnosis of a routine visit, per kind and age (mappings/diagnoses.json)', async (t) => {
  const code = (r: RecordLike) => one<Condition>(map(r), 'Condition').code?.coding?.[0]?.code;
  t.equal(code(validAnthropometry), 'Z00.1', 'a balita weighed');
  t.equal(code(withChanges({ subject: { nik: '3201014408100003', name: 'Putri', sex: 'female', birthDate: '2010-08-04' }, weightKg: 45, heightCm: 150, position: 'standing' })), 'Z00.3', 'an adolescent: P16__054');
  t.equal(code(withChanges({ subject: { nik: '3201014408800003', name: 'Ibu', sex: 'female', birthDate: '1980-08-04' }, weightKg: 60, heightCm: 155, position: 'standing', headCircumferenceCm: undefined, muacCm: undefined })), 'Z00.0', 'an adult');
  t.equal(code(validImmunization), 'Z27.8', 'P13__018');
  t.equal(code(validAncVisit), 'Z34.9');
  t.equal(code(validScreening), 'Z13.8');
});

t.test('a corrected record updates the same Condition', async (t) => {
  const first = map(validAnthropometry);
  const second = map(withChanges({ weightKg: 9.9 }));
  const request = (b: Bundle) => b.entry?.find((e) => e.resource?.resourceType === 'Condition')?.request;
  t.equal(request(first)?.method, 'PUT', 'upserted by its sys-ids identifier');
  t.same(request(second), request(first));
});

t.test('a date-only record: local noon in the posyandu zone, never later than receipt', async (t) => {
  const dateOnly = withChanges({ occurredAt: '2025-11-05' });
  const endOf = (b: Bundle) => one<Encounter>(b, 'Encounter').period?.end;
  t.equal(endOf(map(dateOnly)), '2025-11-05T05:00:00+00:00', 'WIB noon is 05:00 UTC, the same calendar date');
  const wita = withChanges({ occurredAt: '2025-11-05', posyandu: '5271010002-01' });
  t.equal(endOf(map(wita)), '2025-11-05T04:00:00+00:00', 'WITA noon');
  const sameMorning = new Date('2025-11-05T02:10:30.750Z');
  const b = map(dateOnly, sameMorning);
  t.equal(endOf(b), '2025-11-05T02:10:30+00:00', 'sent at 09:10 WIB the same day: the time it arrived, not noon');
  t.equal(one<Encounter>(b, 'Encounter').period?.start, '2025-11-05T01:10:30+00:00', 'the visit began the configured 60 minutes before');
  t.equal(fhirDateTime('2025-04-10', { offset: '+09:00', now: later }), '2025-04-10T03:00:00+00:00', 'fhirDateTime for a kind mapper (ANC HPHT): WIT noon');
  t.equal(fhirDateTime('2025-11-05T09:30:00+07:00', { offset: '+09:00', now: later }), '2025-11-05T02:30:00+00:00', 'a date-time keeps its instant');
  t.equal(fhirDateTime('2026-01-15', { offset: '+07:00', now: later }), '2026-01-15T05:00:00+00:00', 'an expected date (HPL) is not pulled back to now');
  const lateEvening = new Date('2025-11-05T16:00:00Z'); // 23:00 WIB on 5 November, 01:00 WIT on the 6th
  t.equal(fhirDateTime('2025-11-06', { offset: '+09:00', now: lateEvening }), '2025-11-05T16:00:00+00:00', 'today in WIT: never after now');
  t.equal(fhirDateTime('2025-11-06', { offset: '+07:00', now: lateEvening }), '2025-11-06T05:00:00+00:00', 'in WIB it is still the 5th: the 6th is an expected date');
});

t.test('the time zone: registry first, else the province of the village or regency', async (t) => {
  const f = structuredClone(facilities);
  f.puskesmas.P9471010101 = { name: 'Puskesmas Jayapura', organizationId: '10000009', regency: '9471' };
  f.posyandu['9471010001-01'] = { name: 'Posyandu Jayapura', puskesmas: 'P9471010101', village: '9471010001' };
  const puskesmas = f.puskesmas.P9471010101;
  const posyandu = f.posyandu['9471010001-01'];
  if (!puskesmas || !posyandu) throw new Error('registry');
  t.equal(timeZoneOf(posyandu, puskesmas), 'WIT', 'Papua: WIT by province code');
  t.equal(timeZoneOf({ ...posyandu, timeZone: 'WITA' }, puskesmas), 'WITA', "the registry's word wins");
  t.equal(timeZoneOf({ name: 'x', puskesmas: 'P9471010101' }, { ...puskesmas, regency: '6371' }), 'WITA', 'no village: the regency (Banjarmasin)');
  const b = map(withChanges({ occurredAt: '2025-11-05', posyandu: '9471010001-01' }), later, f);
  t.equal(one<Encounter>(b, 'Encounter').period?.end, '2025-11-05T03:00:00+00:00', 'WIT noon is 03:00 UTC');
});

t.test('the posyandu Location carries its village as a coded address (P13__004)', async (t) => {
  const loc = one<{ address?: { use?: string; extension?: { extension?: { url: string; valueCode: string }[] }[] } }>(map(validAnthropometry), 'Location');
  t.equal(loc.address?.use, 'work');
  t.same(loc.address?.extension?.[0]?.extension?.map((e) => `${e.url}=${e.valueCode}`), ['province=32', 'city=3201', 'district=320101', 'village=3201010001']);
});

t.test("the record's own visit period", async (t) => {
  const visit = { start: '2025-11-05T08:05:00+07:00', end: '2025-11-05T09:40:00+07:00' };
  const b = map(withChanges({ visit }));
  const enc = one<Encounter>(b, 'Encounter');
  t.same(enc.period, { start: '2025-11-05T01:05:00+00:00', end: '2025-11-05T02:40:00+00:00' }, 'as the record says, in UTC');
  t.equal(one<Observation>(b, 'Observation').effectiveDateTime, '2025-11-05T02:30:00+00:00', 'results keep occurredAt');
  t.equal(one<Condition>(b, 'Condition').recordedDate, '2025-11-05T02:40:00+00:00');
  const dateOnly = map(withChanges({ occurredAt: '2025-11-05', visit }));
  t.equal(one<Observation>(dateOnly, 'Observation').effectiveDateTime, '2025-11-05T02:40:00+00:00', 'a date-only record: results at the end of its visit');

  const issues = (changes: RecordLike) => {
    const p = prepareRecord(withChanges(changes), 'app-x', facilities, later);
    return p.ok ? [] : p.issues.map((i) => `${i.key} ${i.path}`);
  };
  t.same(issues({ visit }), []);
  t.same(issues({ visit: { start: visit.end, end: visit.start } }), ['visit.end-not-after-start visit.end', 'visit.outside occurredAt']);
  t.same(issues({ visit: { start: '2025-11-05T10:00:00+07:00', end: '2025-11-05T11:00:00+07:00' } }), ['visit.outside occurredAt'], 'occurredAt before the visit');
  t.same(issues({ occurredAt: '2025-11-04', visit }), ['visit.outside occurredAt'], 'a date-only occurredAt on another day');
  t.same(issues({ occurredAt: '2025-11-08T09:30:00+07:00', visit: { start: '2025-11-08T09:00:00+07:00', end: '2025-11-08T10:00:00+07:00' } }), [
    'date.future occurredAt',
    'date.future visit.end',
  ]);
  t.same(issues({ visit: { start: '2025-11-05', end: visit.end } }), ['field.format.gerbang-instant visit.start'], 'a bare date is not a moment');
  t.same(issues({ visit: { start: visit.start } }), ['field.required visit.end']);
});
