import { readFileSync } from 'node:fs';
import t from 'tap';
import { deliveryCodeFamilies, deliveryCodeInfo, deliveryCodes, errorCodes, httpDeliveryCode, issueCodes, issueTypeOf, networkDeliveryCode } from '../../src/errors/codes.js';
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
  const all = { ...deliveryCodes, ...deliveryCodeFamilies };
  for (const [code, c] of Object.entries(all)) {
    const { category, group } = c;
    t.match(doc, new RegExp(`\\| \`${code.replace(/\./g, '\\.')}\` \\| ${category} \\| ${group} \\|`), `${code} in docs/errors.md`);
    if (!('ownWords' in c)) continue;
    t.ok(hasMessage(`reason.${code}`), `${code} has a message`);
    t.not(message(`reason.${code}`, 'id', { detail: 'x' }), message(`reason.${code}`, 'en', { detail: 'x' }), `${code} is translated`);
  }
  const section = doc.slice(doc.indexOf('## Delivery codes'), doc.indexOf('## Limits of a'));
  const documented = [...section.matchAll(/^\| `([a-z0-9.<>-]+)` \| (transient|permanent) \|/gm)].map((m) => m[1]);
  t.same(documented.sort(), Object.keys(all).sort(), 'the table lists exactly the delivery codes');
});

t.test('every code in the answers table exists; every issue code is documented with its issue type, both ways', async (t) => {
  const answers = doc.slice(0, doc.indexOf('## Delivery codes'));
  const documentedAnswers = [...answers.matchAll(/^\| `([a-z.-]+)` \| \d{3} \|/gm)].map((m) => m[1]);
  t.same(documentedAnswers.sort(), Object.keys(errorCodes).sort(), 'the answers table lists exactly the error codes');

  const section = doc.slice(doc.indexOf('## Issues'));
  const documented = new Map<string, string>();
  for (const row of section.matchAll(/^\| (`[^|]+`) \| ([a-z-]+) \|/gm)) {
    for (const code of row[1]!.matchAll(/`([a-z0-9.-]+)`/g)) documented.set(code[1]!, row[2]!);
  }
  t.same([...documented.keys()].sort(), Object.keys(issueCodes).sort(), 'the issues table lists exactly the issue codes');
  for (const [code, { issueType }] of Object.entries(issueCodes)) {
    t.equal(documented.get(code), issueType, `${code}: issue type ${issueType}`);
    t.ok(hasMessage(code), `${code} has a message`);
    t.equal(issueTypeOf(code), issueType);
  }
});

t.test('every message is an answer, an issue or a delivery reason', async (t) => {
  const groups = ['rejected', 'gave-up', 'identity', 'other'];
  const ownWords = Object.entries(deliveryCodes).filter(([, c]) => 'ownWords' in c).map(([code]) => `reason.${code}`);
  const known = new Set([...Object.keys(errorCodes), ...Object.keys(issueCodes), ...groups.map((g) => `reason.${g}`), ...ownWords]);
  const catalogue = JSON.parse(readFileSync(new URL('../../mappings/messages.json', import.meta.url), 'utf8')) as { messages: Record<string, unknown> };
  t.same(Object.keys(catalogue.messages).filter((k) => !known.has(k)), [], 'no message for a code the tables do not have');
  for (const key of known) t.ok(hasMessage(key), `${key} has words`);
});

t.test('delivery codes: a code without words of its own is told by its group; families are found by their members', async (t) => {
  for (const [code, c] of Object.entries(deliveryCodes)) {
    if (!('ownWords' in c)) t.notOk(hasMessage(`reason.${code}`), `${code} has no words of its own: the table says so`);
  }
  t.same(deliveryCodeInfo(httpDeliveryCode(422)), { category: 'permanent', group: 'rejected' });
  t.same(deliveryCodeInfo(httpDeliveryCode(503)), { category: 'transient', group: 'other' });
  t.same(deliveryCodeInfo(networkDeliveryCode('econnreset')), { category: 'transient', group: 'other' });
  t.equal(deliveryCodeInfo('delivery.attempts-exhausted')?.group, 'gave-up');
  t.equal(deliveryCodeInfo('queued'), undefined, 'a state is not a code');
});
