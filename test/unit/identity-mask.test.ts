import t from 'tap';
import { maskIdentity, maskIdentityText, peopleOf } from '../../src/log/identity-mask.js';
import { validAnthropometry } from '../fixtures/records.js';

const people = peopleOf(validAnthropometry);

t.test('the names and NIKs of a record: subject, mother, performer', async (t) => {
  t.same(people, { names: ['Siti Aminah', 'Dewi Lestari', 'Rina'], niks: ['3201015503230004', '3201014507950002'] });
  t.same(peopleOf(undefined), { names: [], niks: [] }, 'a dropped payload has none');
  t.same(peopleOf({ subject: { name: 42, nik: null } }), { names: [], niks: [] }, 'read defensively');
});

t.test('a NIK in any grouping is masked', async (t) => {
  for (const written of ['3201015503230004', '3201 0155 0323 0004', '3201-0155-0323-0004', '3201.0155.0323.0004', '320101 550323 0004', '3201 - 0155 - 0323 - 0004', '3201/0155/0323/0004']) {
    const out = maskIdentityText(`NIK ${written} tidak ditemukan`, people);
    t.equal(out, 'NIK **************** tidak ditemukan', written);
  }
  t.equal(maskIdentityText('NIK 9999 8888 7777 6666', { names: [], niks: [] }), 'NIK ****************', "a stranger's grouped NIK too");
});

t.test('a name in any case and spacing, whole or word by word, and nothing else', async (t) => {
  t.equal(maskIdentityText('Patient SITI AMINAH unknown', people), 'Patient *** unknown');
  t.equal(maskIdentityText('patient siti   aminah, mother dewi-lestari', people), 'patient ***, mother ***');
  t.equal(maskIdentityText('family name AMINAH', people), 'family name ***');
  t.equal(maskIdentityText('Sitianah and Aminahs stay', people), 'Sitianah and Aminahs stay', 'only whole words');
  t.equal(maskIdentityText('kader rina', people), 'kader ***');
});

t.test('every string of a JSON value, keys and other values kept', async (t) => {
  const outcome = { resourceType: 'OperationOutcome', issue: [{ diagnostics: 'Siti Aminah 3201015503230004', details: { text: 'ok' } }], count: 2, big: 3201015503230004 };
  t.same(maskIdentity(outcome, people), { resourceType: 'OperationOutcome', issue: [{ diagnostics: '*** ****************', details: { text: 'ok' } }], count: 2, big: '****************' });
});
