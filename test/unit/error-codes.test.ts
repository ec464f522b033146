import { readFileSync } from 'node:fs';
import t from 'tap';
import { deliveryCodes, errorCodes } from '../../src/errors/codes.js';
import { hasMessage, message } from '../../src/errors/messages.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

t.test('every error code is documented with its status, and has words in both languages', async (t) => {
  for (const [code, { status }] of Object.entries(errorCodes)) {
    t.match(doc, new RegExp(`\\| \`${code.replace('.', '\\.')}\` \\| ${status} \\|`), `${code} in docs/errors.md`);
    t.ok(hasMessage(code), `${code} has a message`);
    t.not(message(code, 'id'), message(code, 'en'), `${code} is translated`);
  }
});

t.test('placeholders are filled; field names become labels a kader knows', async (t) => {
  t.equal(message('field.required', 'id', { field: 'subject.nik' }), 'NIK sasaran wajib diisi.');
  t.equal(message('field.required', 'en', { field: 'subject.nik' }), "Subject's NIK is required.");
  t.equal(message('field.type', 'id', { field: 'weightKg', expected: 'number' }), 'Berat badan (kg) harus berupa angka.');
});

t.test('every delivery code is documented with its category and has words; every documented one exists', async (t) => {
  for (const [code, { category }] of Object.entries(deliveryCodes)) {
    t.match(doc, new RegExp(`\\| \`${code.replace(/\./g, '\\.')}\` \\| ${category} \\|`), `${code} in docs/errors.md`);
    t.ok(hasMessage(`reason.${code}`), `${code} has a message`);
    t.not(message(`reason.${code}`, 'id', { detail: 'x' }), message(`reason.${code}`, 'en', { detail: 'x' }), `${code} is translated`);
  }
  const section = doc.slice(doc.indexOf('## Delivery codes'), doc.indexOf('## Limits of a'));
  const documented = [...section.matchAll(/^\| `([a-z.-]+)` \| (transient|permanent) \|/gm)].map((m) => m[1]);
  t.same(documented.sort(), Object.keys(deliveryCodes).sort(), 'the table lists exactly the delivery codes');
});
