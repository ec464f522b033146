import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { normaliseVaccineName, vaccineCodings } from '../../src/records/vaccine-name.js';

// Every name seen in real apps must read as its antigen and dose (the shared list, or the copy
// kept with the tests when the shared folder is not there), and names no app has used yet, built
// by the same rules, must read too.

const shared = new URL('../../../shared/data/vaccine-name-variants.json', import.meta.url);
const copy = new URL('../fixtures/vaccine-name-variants.json', import.meta.url);
const variants = JSON.parse(readFileSync(existsSync(shared) ? shared : copy, 'utf8')) as Array<{ variant: string; antigen: string; dose: number | null }>;

// The survey's labels → Gerbang's antigen keys.
const keyOf: Record<string, string | null> = {
  'HepB birth dose (HB0)': 'hepb', 'HepB (dose unspecified)': 'hepb', 'HepB (monovalent/old schedule)': 'hepb',
  BCG: 'bcg', OPV: 'opv', 'OPV (dose unspecified)': 'opv', IPV: 'ipv', 'IPV (dose unspecified)': 'ipv',
  'DPT-HB-Hib': 'dpt-hb-hib', 'DPT-HB-Hib (dose unspecified)': 'dpt-hb-hib', 'DPT-HB-Hib (brand, dose unspecified)': 'dpt-hb-hib',
  'DPT-containing (old label)': 'dpt', DT: 'dt', TT: 'td', 'TT/Td (WUS/bumil)': 'td',
  'Hexavalent (DPT-HB-Hib-IPV)': 'hexavalent', PCV: 'pcv', Rotavirus: 'rotavirus', 'Rotavirus (dose unspecified)': 'rotavirus',
  'Rotavirus (brand Rotarix)': 'rotavirus', MR: 'mr', 'Measles/MR (dose unspecified)': 'mr', 'Japanese encephalitis': 'je',
  'NOT A VACCINE (vitamin/ORS mixed into immunisation lists)': null, 'NOT A VACCINE (completeness flag)': null,
};

t.test(`all ${variants.length} names seen in real apps`, async (t) => {
  const wrong: string[] = [];
  for (const v of variants) {
    const expected = keyOf[v.antigen];
    if (expected === undefined) {
      wrong.push(`no key for the label "${v.antigen}"`);
      continue;
    }
    const got = normaliseVaccineName(v.variant);
    const gotText = got.ok ? `${got.antigen.key} ${got.dose}` : got.reason;
    const wantText = expected === null ? 'not-a-vaccine' : `${expected} ${v.dose}`;
    if (gotText !== wantText) wrong.push(`"${v.variant}": ${gotText}, expected ${wantText}`);
  }
  t.same(wrong, []);
});

t.test('the rules generalise: separators, case, Roman numerals, number words, brands, boosters, age labels', async (t) => {
  const cases: Array<[string, string, number | null]> = [
    ['dpt.hb.hib/3', 'dpt-hb-hib', 3],
    ['Dpt Hb Hib ke-2', 'dpt-hb-hib', 2],
    ['PENTABIO (III)', 'dpt-hb-hib', 3],
    ['Pentavalen 1', 'dpt-hb-hib', 1],
    ['Polio-IV', 'opv', 4],
    ['opv_iii', 'opv', 3],
    ['Polio tetes dua', 'opv', 2],
    ['IPV (II)', 'ipv', 2],
    ['Polio Injeksi 1', 'ipv', 1],
    ['pcv - 3', 'pcv', 3],
    ['Pneumococcus 2', 'pcv', 2],
    ['rotateq 2', 'rotavirus', 2],
    ['Rota Virus (1)', 'rotavirus', 1],
    ['MR booster', 'mr', 2],
    ['Campak Rubella Ulang', 'mr', 2],
    ['Imunisasi 18 bln - Campak Rubella', 'mr', 2],
    ['hb-nol', 'hepb', 0],
    ['Hepatitis B-0 (< 7 hari)', 'hepb', 0],
    ['BCG ', 'bcg', 1],
    ['Vaksin BCG', 'bcg', 1],
    ['Imunisasi Polio 1', 'opv', 1],
    ['Td 2', 'td', 2],
    ['T-3', 'td', 3],
    ['Heksavalen 2', 'hexavalent', 2],
    ['Japanese Encephalitis', 'je', null],
    // A volume or strength is not a dose (issue 13), nor the presentation in a KFA product name.
    ['Hepatitis B 0,5 ml', 'hepb', null],
    ['HB0 0.5 mL', 'hepb', 0],
    ['DPT-HB-Hib 2 (0,5 ml)', 'dpt-hb-hib', 2],
    ['BCG 0,05 ml', 'bcg', 1],
    ['Td 10 Lf 2', 'td', 2],
    ['Vaksin DTP - HB - Hib 0,5 mL (PENTABIO, 1)', 'dpt-hb-hib', null],
    ['Polio 2 tetes', 'opv', null],
  ];
  for (const [name, antigen, dose] of cases) {
    const got = normaliseVaccineName(name);
    t.same(got.ok ? [got.antigen.key, got.dose] : got.reason, [antigen, dose], name);
  }
});

t.test('names that are not a known vaccine are refused', async (t) => {
  for (const name of ['Influenza', 'Covid19', 'xyz', '123', '']) t.same(normaliseVaccineName(name), { ok: false, reason: 'unknown' }, JSON.stringify(name));
  for (const name of ['Vitamin A - 1', 'Oralit', 'Imunisasi Bayi Lengkap']) t.same(normaliseVaccineName(name), { ok: false, reason: 'not-a-vaccine' }, name);
});

t.test('vaccineCode: KFA product when the brand names one, then the groups, then CVX (P13__011)', async (t) => {
  const codes = (name: string) => {
    const read = normaliseVaccineName(name);
    if (!read.ok) throw new Error(`expected a vaccine: ${name}`);
    return vaccineCodings(read.antigen, name).map((c) => c.code);
  };
  t.same(codes('Pentabio 1'), ['93001282', 'VG17', 'VG45', 'VG107', '198'], 'the product P13__011 sends');
  t.same(codes('DPT-HB-Hib 1'), ['VG17', 'VG45', 'VG107', '198'], 'no brand, no product');
  t.same(codes('Rotarix 2'), ['93001652', 'VG122', '119'], "the brand's own CVX replaces the group's");
  t.same(codes('Td 2'), ['93006992', 'VG139', '35'], 'Td as H06__018-019');
  t.same(codes('TT 1'), ['93006992', 'VG139', '35']);
  const read = normaliseVaccineName('BCG');
  if (!read.ok) throw new Error('expected a vaccine');
  t.same(Object.keys(vaccineCodings(read.antigen, 'BCG')[0] ?? {}).sort(), ['code', 'display', 'system'], 'the data files\' notes stay out of the Coding');
});
