import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { lmsValue, lmsZ, restrictedValue, roundZ } from '../../src/indicators/growth/lms.js';
import { growthTables, readTable, type Indicator, type LmsTable, type Sex } from '../../src/indicators/growth/lms-tables.js';
import { computeGrowth, zScoreAt, type GrowthInput, type ZScore } from '../../src/indicators/growth/zscore.js';

// The z-score code checked against the WHO tables themselves, then worked examples derived by hand
// from single table rows, then the rules around them (0.7 cm, oedema, flags, ranges).

const SEXES: Sex[] = ['male', 'female'];
const { tables, indicators } = growthTables();

function z(indicator: Indicator, sex: Sex, key: number, y: number): ZScore {
  const r = zScoreAt(indicator, sex, key, y);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

function growth(extra: Partial<GrowthInput> & Pick<GrowthInput, 'birthDate' | 'measuredOn'>): ReturnType<typeof computeGrowth> {
  return computeGrowth({ sex: 'male', ...extra });
}

const byIndicator = (r: ReturnType<typeof computeGrowth>, i: Indicator) => r.zScores.find((s) => s.indicator === i);

/**
 * Every row of a table: the median gives 0; the LMS value at ±1, ±2, ±3 gives that z; beyond ±3
 * the value by WHO's restricted formula (weight-based, MUAC) or by plain LMS (length/height, head)
 * gives that z back. Rows are keyed in the table's own unit: days, or cm for wfl/wfh.
 */
function walk(t: Test, indicator: Indicator, table: LmsTable, sex: Sex, keys: (key: number) => boolean = () => true) {
  const restricted = indicators[indicator].method === 'restricted';
  const failures: string[] = [];
  let checked = 0;
  table.rows.forEach((lms, i) => {
    const row = table.first + i;
    if (!keys(row)) return;
    const key = table.keyColumn === 'age' ? row : row / 10;
    const expect = (y: number, want: number) => {
      const got = z(indicator, sex, key, y);
      if (Math.abs(got.zRaw - want) > 1e-9 || got.z !== want) failures.push(`${sex} ${key}: y ${y} gave ${got.zRaw}, want ${want}`);
      checked++;
    };
    expect(lms.m, 0);
    for (const want of [-3, -2, -1, 1, 2, 3]) expect(lmsValue(want, lms), want);
    for (const want of [-4, -3.5, 3.5, 4]) expect(restricted ? restrictedValue(want, lms) : lmsValue(want, lms), want);
  });
  t.same(failures.slice(0, 5), [], `${indicator} ${sex}: ${checked} values, ${failures.length} wrong`);
  return checked;
}

t.test('every tabulated age and sex of the age-based tables', async (t) => {
  for (const sex of SEXES) {
    walk(t, 'wfa', tables.wfa[sex], sex);
    // One table, two names: length up to day 730, height from day 731.
    walk(t, 'lfa', tables.lhfa[sex], sex, (day) => day < 731);
    walk(t, 'hfa', tables.lhfa[sex], sex, (day) => day >= 731);
    walk(t, 'bmifa', tables.bmi[sex], sex);
    walk(t, 'hcfa', tables.hcfa[sex], sex);
    walk(t, 'muacfa', tables.muac[sex], sex);
  }
});

t.test('every 0.1 cm row of weight-for-length and weight-for-height', async (t) => {
  for (const sex of SEXES) {
    walk(t, 'wfl', tables.wfl[sex], sex);
    walk(t, 'wfh', tables.wfh[sex], sex);
  }
});

t.test('the tables are what the method assumes', async (t) => {
  for (const sex of SEXES) {
    // Plain LMS for length/height and head is WHO's choice because these are normal (L = 1).
    t.ok([...tables.lhfa[sex].rows, ...tables.hcfa[sex].rows].every((r) => r.l === 1), `${sex}: L = 1 in every length/height and head row`);
    t.same([tables.wfa[sex].first, tables.wfa[sex].last, tables.muac[sex].first], [0, 1826, 91], `${sex}: days 0-1826, MUAC from day 91`);
    t.same([tables.wfl[sex].first, tables.wfl[sex].last, tables.wfh[sex].first, tables.wfh[sex].last], [450, 1100, 650, 1200], `${sex}: 45-110 and 65-120 cm`);
  }
  // Spot check against WHO's published month-0 girls' weight row (mappings/who-growth/README.md).
  t.same(tables.wfa.female.rows[0], { l: 0.3809, m: 3.2322, s: 0.14171 });
  t.equal(growthTables(), growthTables(), 'read once per process');
});

t.test('between two 0.1 cm rows L, M and S are interpolated', async (t) => {
  // Boys, weight-for-length, rows 65.3 (L -0.3521, M 7.3380, S 0.08220) and 65.4 (L -0.3521,
  // M 7.3617, S 0.08219). At 65.35 cm, half-way: M = 7.34985, S = 0.082195, L = -0.3521.
  // 6.5 kg: ((6.5 / 7.34985)^-0.3521 − 1) / (0.082195 × −0.3521) = −1.5278 → −1.53.
  const r = z('wfl', 'male', 65.35, 6.5);
  t.ok(Math.abs(r.zRaw - -1.5277650627) < 1e-9, `zRaw ${r.zRaw}`);
  t.equal(r.z, -1.53);
  t.equal(z('wfl', 'male', 65.35, 7.34985).z, 0, 'the interpolated median');

  // Everywhere: 40 % of the way from each row to the next, the interpolated row's own values.
  for (const [indicator, name] of [['wfl', 'wfl'], ['wfh', 'wfh']] as const) {
    for (const sex of SEXES) {
      const table = tables[name][sex];
      const wrong: number[] = [];
      for (let i = 0; i + 1 < table.rows.length; i++) {
        const [a, b] = [table.rows[i]!, table.rows[i + 1]!];
        const mid = { l: a.l + 0.4 * (b.l - a.l), m: a.m + 0.4 * (b.m - a.m), s: a.s + 0.4 * (b.s - a.s) };
        const cm = (table.first + i + 0.4) / 10;
        if (Math.abs(z(indicator, sex, cm, lmsValue(2, mid)).zRaw - 2) > 1e-9) wrong.push(cm);
      }
      t.same(wrong.slice(0, 3), [], `${indicator} ${sex}: ${table.rows.length - 1} gaps`);
    }
  }
  t.equal(z('wfl', 'male', 65.3, 7.338).zRaw, 0, 'a value on a row is that row (65.3 × 10 is 652.999… in floating point)');
  t.match(zScoreAt('wfl', 'male', 110.05, 18), /outside the WHO table \(45-110 cm\)/, 'beyond the last row: no z');
  t.match(zScoreAt('wfh', 'female', 64.99, 7), /outside/, 'below the first row: no z');
});

t.test('worked example: a 9 kg girl at 365 days (the reference check)', async (t) => {
  // Girls, weight-for-age, day 365: L −0.2022, M 8.9462, S 0.12267.
  // ((9 / 8.9462)^−0.2022 − 1) / (0.12267 × −0.2022) = 0.0488 (clinical.md 1.2, figshare 4294085) → 0.05.
  const r = computeGrowth({ sex: 'female', birthDate: '2023-01-01', measuredOn: '2024-01-01', weightKg: 9 });
  t.equal(r.ageDays, 365);
  t.equal(byIndicator(r, 'wfa')?.z, 0.05);
  t.ok(Math.abs((byIndicator(r, 'wfa')?.zRaw ?? 0) - 0.0488) < 0.0001);
});

t.test('worked example: restricted weight-for-age beyond ±3, boys day 0', async (t) => {
  // Boys, weight-for-age, day 0: L 0.3487, M 3.3464, S 0.14602. y(z) = M (1 + L S z)^(1/L):
  //   y(3) = 5.03064, y(2) = 4.41935, y(−2) = 2.45931, y(−3) = 2.08031.
  // 5.5 kg: plain LMS would say 3.715; restricted 3 + (5.5 − 5.03064) / (5.03064 − 4.41935) = 3.768 → 3.77.
  // 1.8 kg: plain −3.819; restricted −3 + (1.8 − 2.08031) / (2.45931 − 2.08031) = −3.740 → −3.74.
  const heavy = computeGrowth({ sex: 'male', birthDate: '2025-01-01', measuredOn: '2025-01-01', weightKg: 5.5 });
  t.equal(byIndicator(heavy, 'wfa')?.z, 3.77);
  t.ok(Math.abs(lmsZ(5.5, tables.wfa.male.rows[0]!) - 3.7153) < 1e-4, 'the plain formula differs, so the test tells them apart');
  const light = computeGrowth({ sex: 'male', birthDate: '2025-01-01', measuredOn: '2025-01-01', weightKg: 1.8 });
  t.equal(byIndicator(light, 'wfa')?.z, -3.74);
});

t.test('worked example: a boy of 800 days measured lying (−0.7 cm), with BMI and head', async (t) => {
  // 2023-01-01 → 2025-03-11 is 800 days: height-based, so 90.0 cm lying becomes 89.3 cm standing.
  // HAZ, day 800 (L 1, M 89.0391, S 0.03586): (89.3 / 89.0391 − 1) / 0.03586 = 0.0817 → 0.08.
  // WHZ, row 89.3 cm (L −0.3521, M 12.7209, S 0.08041): ((12 / 12.7209)^−0.3521 − 1) / (0.08041 × −0.3521) = −0.7330 → −0.73.
  // BMI 12 / 0.893² = 15.0480; day 800 (L −0.5402, M 15.9306, S 0.07802): −0.7419 → −0.74.
  //   (with the uncorrected 90.0 cm it would be 14.81 kg/m², z −0.95: the correction matters.)
  // HCZ, day 800 (L 1, M 48.5323, S 0.02831): (50 / 48.5323 − 1) / 0.02831 = 1.0682 → 1.07.
  // WAZ, day 800 (L −0.0254, M 12.6018, S 0.11561): ((12 / 12.6018)^−0.0254 − 1) / (0.11561 × −0.0254) = −0.4235 → −0.42.
  const r = computeGrowth({ sex: 'male', birthDate: '2023-01-01', measuredOn: '2025-03-11', weightKg: 12, heightCm: 90, position: 'lying', headCircumferenceCm: 50 });
  t.equal(r.ageDays, 800);
  t.equal(r.correctedHeightCm, 90 - 0.7);
  t.same(r.zScores.map((s) => [s.indicator, s.z]), [['wfa', -0.42], ['hfa', 0.08], ['wfh', -0.73], ['bmifa', -0.74], ['hcfa', 1.07]]);
});

t.test('worked example: a girl of 365 days measured standing (+0.7 cm), and MUAC', async (t) => {
  // Under 731 days the standard is lying length: 75.0 cm standing becomes 75.7 cm.
  // LAZ, day 365 (L 1, M 74.0049, S 0.03479): (75.7 / 74.0049 − 1) / 0.03479 = 0.6584 → 0.66.
  // WFL, row 75.7 cm (L −0.3833, M 9.2786, S 0.08996): ((9 / 9.2786)^−0.3833 − 1) / (0.08996 × −0.3833) = −0.3409 → −0.34.
  const r = computeGrowth({ sex: 'female', birthDate: '2023-01-01', measuredOn: '2024-01-01', weightKg: 9, heightCm: 75, position: 'standing' });
  t.equal(r.correctedHeightCm, 75 + 0.7);
  t.equal(byIndicator(r, 'lfa')?.z, 0.66);
  t.equal(byIndicator(r, 'wfl')?.z, -0.34);

  // MUAC, boys day 400 (L 0.1037, M 14.6801, S 0.07695): y(−3) = 11.6212, y(−2) = 12.5705.
  // 11.0 cm: plain −3.695; restricted −3 + (11.0 − 11.6212) / (12.5705 − 11.6212) = −3.6545 → −3.65.
  const m = computeGrowth({ sex: 'male', birthDate: '2023-01-01', measuredOn: '2024-02-05', muacCm: 11 });
  t.equal(m.ageDays, 400);
  t.equal(byIndicator(m, 'muacfa')?.z, -3.65);
});

t.test('the 0.7 cm correction and the choice of table, both sides of 731 days', async (t) => {
  const at = (days: number, position?: 'lying' | 'standing') => {
    const birth = new Date(Date.UTC(2022, 0, 1));
    const on = new Date(birth.getTime() + days * 86_400_000).toISOString().slice(0, 10);
    return growth({ birthDate: '2022-01-01', measuredOn: on, heightCm: 87, weightKg: 12, ...(position ? { position } : {}) });
  };
  const ids = (r: ReturnType<typeof computeGrowth>) => r.zScores.map((s) => s.indicator);
  t.equal(at(730, 'lying').correctedHeightCm, 87, 'day 730 lying: already a length');
  t.equal(at(730, 'standing').correctedHeightCm, 87 + 0.7, 'day 730 standing: +0.7');
  t.same(ids(at(730, 'standing')), ['wfa', 'lfa', 'wfl', 'bmifa'], 'day 730: length-for-age, weight-for-length');
  t.equal(at(731, 'lying').correctedHeightCm, 87 - 0.7, 'day 731 lying: −0.7');
  t.equal(at(731, 'standing').correctedHeightCm, 87, 'day 731 standing: already a height');
  t.same(ids(at(731, 'lying')), ['wfa', 'hfa', 'wfh', 'bmifa'], 'day 731: height-for-age, weight-for-height');
  t.equal(at(731).correctedHeightCm, 87, 'no position recorded: nothing to convert');
  t.equal(byIndicator(at(731, 'lying'), 'wfh')?.zRaw, z('wfh', 'male', 87 - 0.7, 12).zRaw, 'weight-for-height read at the corrected height');

  const baby = computeGrowth({ sex: 'female', birthDate: '2025-01-01', measuredOn: '2025-05-01', heightCm: 62, position: 'standing' });
  t.same(baby.flags, ['standing-under-9-months'], 'a 4-month-old cannot stand: flagged');
  t.equal(baby.correctedHeightCm, 62, 'and the position ignored, as anthro does');
});

t.test('oedema: no weight-for-age, weight-for-length/height or BMI z', async (t) => {
  const r = computeGrowth({ sex: 'female', birthDate: '2024-01-01', measuredOn: '2025-01-01', weightKg: 7, heightCm: 70, position: 'lying', headCircumferenceCm: 44, muacCm: 12, oedema: true });
  t.same(r.zScores.map((s) => s.indicator), ['lfa', 'hcfa', 'muacfa']);
  t.same(r.skipped.map((s) => s.indicator), ['wfa', 'wfl', 'bmifa']);
  t.match(r.skipped[0]?.reason, /oedema/);
  t.equal(computeGrowth({ sex: 'female', birthDate: '2024-01-01', measuredOn: '2025-01-01', weightKg: 7, oedema: false }).zScores.length, 1);
});

t.test('biologically implausible values are kept and flagged at WHO limits', async (t) => {
  const day = 400;
  const key = (i: Indicator) => (i === 'wfl' ? 75 : day);
  const lmsOf = (i: Indicator) => (i === 'wfl' ? tables.wfl.male.rows[750 - 450]! : tables[indicators[i].table].male.rows[day - tables[indicators[i].table].male.first]!);
  const limits: Array<[Indicator, number, number]> = [
    ['wfa', -6, 5],
    ['lfa', -6, 6],
    ['wfl', -5, 5],
    ['bmifa', -5, 5],
    ['hcfa', -5, 5],
    ['muacfa', -5, 5],
  ];
  for (const [i, below, above] of limits) {
    const at = (want: number) => {
      const lms = lmsOf(i);
      return z(i, 'male', key(i), indicators[i].method === 'restricted' ? restrictedValue(want, lms) : lmsValue(want, lms));
    };
    t.same([at(below - 0.01).implausible, at(below).implausible, at(above).implausible, at(above + 0.01).implausible], [true, false, false, true], `${i}: < ${below} or > ${above}`);
    t.equal(at(above + 0.01).z, above + 0.01, 'the value is kept');
  }
  // anthro flags the reported (rounded) z: 5.004 is reported as 5.00, which is not above 5.
  t.equal(z('wfa', 'male', day, restrictedValue(5.004, lmsOf('wfa'))).implausible, false);
  t.equal(z('wfa', 'male', day, restrictedValue(5.006, lmsOf('wfa'))).implausible, true);
});

t.test('out of range: absent with a reason, never an exception', async (t) => {
  const reasons = (r: ReturnType<typeof computeGrowth>) => r.skipped.map((s) => `${s.indicator}: ${s.reason}`);
  // 1826 days is 59.99 months, 1827 is 60.02: WHO z-scores stop below 60 months.
  t.equal(growth({ birthDate: '2020-01-01', measuredOn: '2024-12-31', weightKg: 18 }).ageDays, 1826);
  t.equal(growth({ birthDate: '2020-01-01', measuredOn: '2024-12-31', weightKg: 18 }).zScores.length, 1, 'day 1826: computed');
  const five = growth({ birthDate: '2020-01-01', measuredOn: '2025-01-01', weightKg: 18, heightCm: 110, headCircumferenceCm: 50, muacCm: 16 });
  t.equal(five.zScores.length, 0, 'day 1827: none');
  t.same(five.skipped.map((s) => s.indicator), ['wfa', 'hfa', 'wfh', 'bmifa', 'hcfa', 'muacfa'], 'every measured indicator is listed');
  t.match(reasons(five)[0], /60 months/);
  t.match(reasons(growth({ birthDate: '2025-01-02', measuredOn: '2025-01-01', weightKg: 3 })), [/before the birth date/]);
  t.match(reasons(growth({ birthDate: '2025-01-01', measuredOn: '2025-03-01', muacCm: 11 })), [/muacfa: no WHO muacfa row for day 59 \(the table covers days 91-1826\)/], 'MUAC from 3 months');
  t.match(reasons(growth({ birthDate: '2025-01-01', measuredOn: '2025-01-10', weightKg: 2, heightCm: 44.5 })), [/wfl: length 44.5 cm is outside the WHO table \(45-110 cm\)/]);
  t.match(reasons(growth({ birthDate: '2022-01-01', measuredOn: '2025-01-01', weightKg: 30, heightCm: 121 })), [/wfh: height 121 cm is outside the WHO table \(65-120 cm\)/]);
  t.match(reasons(growth({ birthDate: '2024-01-01', measuredOn: '2025-01-01', weightKg: 0, heightCm: 75 })), [/wfa: weight 0 is not a positive number/, /wfl: weight 0/, /bmifa: weight 0/]);
  t.throws(() => growth({ birthDate: '2025-02-30', measuredOn: '2025-05-01', weightKg: 5 }), RangeError, 'a malformed date is a bug upstream');
});

t.test('rounding as anthro (R round(z, 2)) does', async (t) => {
  t.equal(roundZ(0.0488), 0.05);
  t.equal(roundZ(0.125), 0.12, 'an exact tie goes to the even digit');
  t.equal(roundZ(-0.125), -0.12, 'on both sides of zero');
  t.equal(roundZ(0.375), 0.38);
  t.equal(roundZ(2.675), 2.67, '2.675 is stored as 2.67499…');
  t.equal(roundZ(-1.005), -1, '1.005 is stored as 1.00499…');
  t.ok(Object.is(roundZ(-0.004), 0), 'no negative zero');
});

t.test('growthTables: a malformed file is refused with its file and line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'who-'));
  const file = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\r\n')}\r\n`);
    return path;
  };
  const header = 'sex\tage\tl\tm\ts';
  const good = ['1\t0\t1\t10\t0.1', '1\t1\t1\t10\t0.1', '2\t0\t1\t9\t0.1', '2\t1\t1\t9\t0.1'];
  const spec = { key: 'age' as const, covers: [0, 1] as [number, number] };
  t.equal(readTable(file('ok.txt', [header, ...good]), spec).female.rows.length, 2);
  t.throws(() => readTable(file('a.txt', ['sex\tdays\tl\tm\ts', ...good]), spec), /a\.txt: line 1: no "age" column/);
  t.throws(() => readTable(file('b.txt', [header, good[0]!, '1\t1\t1\tx\t0.1']), spec), /b\.txt: line 3: m "x" is not a number/);
  t.throws(() => readTable(file('c.txt', [header, good[0]!, '1\t2\t1\t10\t0.1']), spec), /c\.txt: line 3: age 2 is not one day after/);
  t.throws(() => readTable(file('d.txt', [header, '2\t0\t1\t9\t0.1', ...good]), spec), /d\.txt: line 3: male rows must come before female rows/);
  t.throws(() => readTable(file('e.txt', [header, '3\t0\t1\t9\t0.1']), spec), /e\.txt: line 2: sex must be 1 or 2/);
  t.throws(() => readTable(file('f.txt', [header, '1\t0\t1\t10']), spec), /f\.txt: line 2: expected 5 tab-separated cells/);
  t.throws(() => readTable(file('g.txt', [header, good[0]!, good[2]!]), spec), /g\.txt: line 3: the male rows run from 0 to 0; Gerbang needs 0 to 1/);
  t.throws(() => readTable(file('h.txt', [header, '1\t0\t1\t0\t0.1']), spec), /h\.txt: line 2: m and s must be positive/);
});
