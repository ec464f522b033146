import t from 'tap';
import { nikDisagreements, parseNik } from '../../src/records/nik.js';

t.test('a well-formed NIK is read: region, sex from day+40, birth date, serial', async (t) => {
  const r = parseNik('3201015503230004');
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.nik, { province: '32', regency: '01', district: '01', sex: 'female', day: 15, month: 3, yy: 23, serial: 4 });
  const m = parseNik('3201011503230001');
  t.equal(m.ok && m.nik.sex, 'male');
});

t.test('each broken part of the structure is named', async (t) => {
  const cases: Array<[string, string]> = [
    ['320101550323000', 'not-16-digits'],
    ['32010155032300041', 'not-16-digits'],
    ['32010155O3230004', 'not-16-digits'],
    ['0001015503230004', 'province'],
    ['2001015503230004', 'province'],
    ['3200015503230004', 'region'],
    ['3201005503230004', 'region'],
    ['3201013213230004', 'birth-date'], // month 13
    ['3201010003230004', 'birth-date'], // day 0
    ['3201017203230004', 'birth-date'], // day 72-40 = 32
    ['3201013102230004', 'birth-date'], // 31 February
    ['3201015503230000', 'serial'],
  ];
  for (const [nik, problem] of cases) {
    const r = parseNik(nik);
    t.same(r, { ok: false, problem }, nik);
  }
  t.ok(parseNik('3201012902240001').ok, '29 February is allowed: the century is not in the NIK');
});

t.test('disagreement with the stated birth date or sex is reported, not refused', async (t) => {
  const r = parseNik('3201015503230004');
  if (!r.ok) throw new Error('expected a valid NIK');
  t.same(nikDisagreements(r.nik, '2023-03-15', 'female'), []);
  t.same(nikDisagreements(r.nik, '2023-03-16', 'female'), ['birth-date']);
  t.same(nikDisagreements(r.nik, '2023-03-15', 'male'), ['sex']);
  t.same(nikDisagreements(r.nik, '1923-03-15', 'female'), [], 'same two-digit year, other century');
});
