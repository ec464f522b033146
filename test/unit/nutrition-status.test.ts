import t from 'tap';
import { classify, nutritionStatus } from '../../src/indicators/growth/nutrition-status.js';
import type { Indicator } from '../../src/indicators/growth/zscore.js';

// Permenkes 2/2020 bands on 2-decimal z-scores, with the inclusive side where the regulation puts
// it ("−3 SD sd < −2 SD", "−2 SD sd +1 SD", "> +1 SD"), and the codes SATUSEHAT takes.

t.test('every boundary, on both sides', async (t) => {
  const cases: Array<[Indicator, number, string | undefined]> = [
    ['wfa', -3.01, 'severely-underweight'], ['wfa', -3, 'underweight'], ['wfa', -2.01, 'underweight'],
    ['wfa', -2, 'normal'], ['wfa', 1, 'normal'], ['wfa', 1.01, 'risk-of-overweight'],
    ['lfa', -3.01, 'severely-stunted'], ['lfa', -3, 'stunted'], ['hfa', -2.01, 'stunted'], ['hfa', -2, 'normal'],
    ['hfa', 3, 'normal'], ['hfa', 3.01, 'tall'],
    ['wfh', -3.01, 'severely-wasted'], ['wfl', -3, 'wasted'], ['wfl', -2.01, 'wasted'], ['wfh', -2, 'normal'], ['wfh', 1, 'normal'],
    ['wfh', 1.01, 'possible-risk-of-overweight'], ['wfh', 2, 'possible-risk-of-overweight'], ['wfh', 2.01, 'overweight'],
    ['wfh', 3, 'overweight'], ['wfh', 3.01, 'obese'],
    ['bmifa', -3.01, 'severely-wasted'], ['bmifa', 2.5, 'overweight'], ['bmifa', 3.01, 'obese'],
    ['hcfa', -2.01, 'microcephaly'], ['hcfa', -2, 'normal'], ['hcfa', 2, 'normal'], ['hcfa', 2.01, 'macrocephaly'],
    ['muacfa', -4, undefined],
  ];
  for (const [indicator, z, expected] of cases) t.equal(classify(indicator, z)?.key, expected, `${indicator} ${z}`);
  t.equal(classify('wfa', Number.NaN), undefined);
});

t.test('labels and interpretation codes', async (t) => {
  const severe = classify('wfh', -3.5);
  t.same(severe?.label, { id: 'Gizi buruk', en: 'Severely wasted' });
  t.same(severe?.interpretation, { system: 'http://terminology.kemkes.go.id/CodeSystem/clinical-term', code: 'OI000001', display: 'Gizi Buruk' }, 'OI000001, not OI000011 (see _notes)');
  t.equal(classify('hfa', -3.5)?.interpretation.code, 'OI000011', 'OI000011 is Sangat pendek');
  t.equal(classify('wfa', -2.5)?.interpretation.code, 'OI000008', 'BB/U kurang as H08__060; 248342006 is the adult BMI code');
  t.same(classify('wfa', -2.5)?.alternatives, [], 'no SNOMED underweight beside it');
  t.equal(classify('wfa', -2)?.interpretation.code, '43664005', 'P15__019 at -2');
  t.equal(classify('hfa', 0)?.interpretation.code, '17489000');
  t.same([classify('hfa', 3.5)?.interpretation.code, classify('hfa', 3.5)?.alternatives[0]?.code], ['83077003', 'OI000014'], 'Tall for age as P12__062, the W/D OI code beside it');
  t.equal(classify('hcfa', -3)?.interpretation.code, '1148757008', 'P14__057 at -3');
  t.equal(classify('hcfa', 0)?.interpretation.code, '840673007', 'P12__064');
  t.equal(classify('wfh', 0)?.interpretation.code, '248324001', 'P16__048');
  t.equal(classify('wfl', 2.5)?.interpretation.code, 'OI000005');
  t.equal(classify('wfl', 3.5)?.interpretation.code, 'OI000006');
});

t.test('what is verified is said in the data', async (t) => {
  t.equal(classify('wfh', 0)?.cutoffsVerified, true);
  t.equal(classify('bmifa', 0)?.cutoffsVerified, false, 'IMT/U borrows the BB/PB-TB bands on one third-party source');
  t.equal(classify('wfh', 0)?.codeVerified, true);
  t.equal(nutritionStatus().bandSets.lku?.use, true, 'LK/U classes as P12__064 gives them');
  t.equal(nutritionStatus().bandSets.lku?.bands.at(-1)?.verified, true, 'Macrocephaly: in P12__064');
});

t.test('z-score Observation codes and unit', async (t) => {
  const codes = Object.fromEntries(Object.entries(nutritionStatus().indicators).map(([k, v]) => [k, v.code?.code]));
  t.same(codes, {
    wfa: '1153593003', lfa: '1153590000', hfa: '1153604005', wfl: '1153598007',
    wfh: '1153600001', bmifa: '1153596006', bmifa519: '1153596006', hcfa: '1153594009', muacfa: undefined,
  });
  t.same(nutritionStatus().zScoreUnit, { unit: '{Zscore}', system: 'http://unitsofmeasure.org', code: '{Zscore}', source: 'P14__051-057, P15__019-024, P16__048' });
  t.equal(nutritionStatus().indicators.muacfa.send, false, 'no SNOMED observable for MUAC-for-age z: shown, not sent');
});
