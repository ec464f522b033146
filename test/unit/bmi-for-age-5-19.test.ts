import t from 'tap';
import { DAYS_PER_MONTH } from '../../src/indicators/growth/age.js';
import { bmiForAge5to19, bmiForAgeMonths } from '../../src/indicators/growth/bmi-for-age-5-19.js';
import { classify, referenceRanges } from '../../src/indicators/growth/nutrition-status.js';

// IMT/U 5-19 years by the WHO Growth Reference 2007, checked against the expected values WHO's own
// anthroplus 1.0.0 tests with (tests/testthat/test-zscores.R, "age ~ 60 months"), then the rules.

const at = (months: number) => months * DAYS_PER_MONTH;

t.test("anthroplus's own worked values", async (t) => {
  const a = bmiForAge5to19('female', at(60.32), 18.7, 113.8);
  const b = bmiForAge5to19('female', at(60.911701), 20.5, 113.6);
  t.equal(typeof a === 'string' ? a : a.z, -0.58);
  t.equal(typeof b === 'string' ? b : b.z, 0.42);
});

t.test('on a whole month the row itself: the median BMI is z 0', async (t) => {
  // bfawho2007.txt, boy, 180 months: M 19.7744
  const r = bmiForAge5to19('male', at(180), 19.7744, 100);
  t.equal(typeof r === 'string' ? r : r.z, 0);
});

t.test('ages, oedema and flags', async (t) => {
  t.same(bmiForAgeMonths(), [60, 228]);
  t.match(bmiForAge5to19('male', at(59.9), 18, 110), /outside the WHO 2007/);
  t.match(bmiForAge5to19('male', at(228.5), 60, 170), /outside the WHO 2007/);
  t.type(bmiForAge5to19('male', at(228), 60, 170), 'object', '228 months is still in');
  t.match(bmiForAge5to19('male', at(120), 30, 140, true), /oedema/);
  const extreme = bmiForAge5to19('male', at(120), 80, 130);
  t.equal(typeof extreme === 'string' ? undefined : extreme.implausible, true, '|z| > 5 is flagged, kept');
});

t.test('PMK 2/2020 IMT/U 5-18 bands and the referenceRange P16__048 sends', async (t) => {
  const cases: Array<[number, string]> = [[-3.01, 'severely-thin'], [-3, 'thin'], [-2.01, 'thin'], [-2, 'normal'], [-0.47, 'normal'], [1, 'normal'], [1.01, 'overweight'], [2, 'overweight'], [2.01, 'obese']];
  for (const [z, key] of cases) t.equal(classify('bmifa519', z)?.key, key, `z ${z}`);
  t.equal(classify('bmifa519', -0.47)?.interpretation.code, '248324001', 'Well nourished as P16__048');
  t.same(
    referenceRanges('bmifa519')?.map((r) => [r.low, r.high]),
    [[undefined, -3.01], [-3, -2.01], [-2, 1], [1.01, 2], [2.01, undefined]],
    'the five ranges of P16__048',
  );
  t.equal(referenceRanges('bmifa'), undefined, 'under five no referenceRange (P14__056 has none)');
});
