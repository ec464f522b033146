import t, { type Test } from 'tap';
import { PayloadCipher, PayloadUnreadableError } from '../../src/sync/payload-cipher.js';
import { StoredPayload } from '../../src/sync/stored-payload.js';
import { generatedKeyId } from '../../src/roles/payload-keys.js';
import type { UpstreamStatus } from '../../src/sync/states.js';

const KEY_A = 'a1'.repeat(32);
const KEY_B = '5c'.repeat(32);
const plain = Buffer.from(JSON.stringify({ subject: { nik: '3201015503230004', name: 'Siti Aminah' } }));
const place = 'record\u0000app\u0000PB-1';

function unreadable(t: Test, fn: () => unknown, keyId: string, reason: PayloadUnreadableError['reason']) {
  try {
    fn();
    t.fail('opened');
  } catch (err) {
    t.ok(err instanceof PayloadUnreadableError, 'a PayloadUnreadableError');
    t.match(err, { keyId, reason });
  }
}

t.test('a sealed value opens to the same bytes, names its key and holds nothing of the plain text', async (t) => {
  const cipher = new PayloadCipher({ current: 'a', keys: { a: KEY_A } });
  const sealed = cipher.seal(plain, place);
  t.same(cipher.open(sealed, place), plain);
  t.equal(PayloadCipher.keyIdOf(sealed), 'a');
  t.notOk(sealed.includes(Buffer.from('3201015503230004')), 'no NIK in the sealed bytes');
  t.notOk(sealed.includes(Buffer.from('Siti')), 'no name in the sealed bytes');
  t.not(cipher.seal(plain, place).toString('hex'), sealed.toString('hex'), 'a fresh IV each time');
  t.equal(cipher.seal(plain, place).length, plain.length + 2 + 1 + 1 + 12 + 16, 'header, IV and tag only');
});

t.test('a value in clear (written before payloads were sealed) is read as it is', async (t) => {
  const cipher = new PayloadCipher({ current: 'a', keys: { a: KEY_A } });
  t.same(cipher.open(plain, place), plain);
  t.ok(cipher.needsRotation(plain));
});

t.test('a key id that is not configured is said, with the id', async (t) => {
  const sealed = new PayloadCipher({ current: 'a', keys: { a: KEY_A } }).seal(plain, place);
  const other = new PayloadCipher({ current: 'b', keys: { b: KEY_B } });
  unreadable(t, () => other.open(sealed, place), 'a', 'key-missing');
  t.match(String((() => { try { other.open(sealed, place); } catch (e) { return (e as Error).message; } })()), /payload key "a".*security\.payloadKeys/);
});

t.test('the same key id with other key bytes, a changed byte, a cut value or another place fail the check', async (t) => {
  const cipher = new PayloadCipher({ current: 'a', keys: { a: KEY_A } });
  const sealed = cipher.seal(plain, place);
  unreadable(t, () => new PayloadCipher({ current: 'a', keys: { a: KEY_B } }).open(sealed, place), 'a', 'tampered');
  for (const at of [3 + 1 + 2, 3 + 1 + 12 + 5, sealed.length - 1]) {
    const changed = Buffer.from(sealed);
    changed[at]! ^= 0x01;
    unreadable(t, () => cipher.open(changed, place), 'a', 'tampered');
  }
  unreadable(t, () => cipher.open(sealed.subarray(0, 20), place), 'a', 'tampered');
  unreadable(t, () => cipher.open(sealed, 'record\u0000app\u0000PB-2'), 'a', 'tampered');
});

t.test('rotation: a ring with the new key current and the old one kept reads both, seals with the new one', async (t) => {
  const before = new PayloadCipher({ current: 'a', keys: { a: KEY_A } });
  const during = new PayloadCipher({ current: 'b', keys: { a: KEY_A, b: KEY_B } });
  const after = new PayloadCipher({ current: 'b', keys: { b: KEY_B } });
  const old = before.seal(plain, place);
  t.ok(during.needsRotation(old));
  const resealed = during.seal(during.open(old, place), place);
  t.equal(PayloadCipher.keyIdOf(resealed), 'b');
  t.notOk(during.needsRotation(resealed));
  t.same(after.open(resealed, place), plain, 'readable once the old key is gone');
  unreadable(t, () => after.open(old, place), 'a', 'key-missing');
});

t.test('a key ring must be usable', async (t) => {
  t.throws(() => new PayloadCipher({ current: 'x', keys: { a: KEY_A } }), /current/);
  t.throws(() => new PayloadCipher({ current: 'a', keys: { a: 'short' } }), /64 hexadecimal/);
});

t.test('a state keeps in clear what the scripts read, and seals the upstream words', async (t) => {
  const payload = new StoredPayload(new PayloadCipher({ current: 'a', keys: { a: KEY_A } }));
  const status: UpstreamStatus = {
    state: 'failed', version: 2, attempts: 3, updatedAt: '2025-11-06T02:00:00.000Z',
    lastError: { code: 'upstream.http-422', message: 'Patient 3201015503230004 Siti Aminah unknown', httpStatus: 422, at: '2025-11-06T02:00:00.000Z' },
    outcome: { resourceType: 'OperationOutcome', issue: [{ diagnostics: 'NIK 3201015503230004 (Siti Aminah)' }] },
    resources: [{ fullUrl: 'urn:uuid:1', resourceType: 'Patient', id: 'P1', status: '201 Created' }],
  };
  const stored = payload.sealStatus('rec-1', 'sandbox', status);
  t.notMatch(stored, /3201015503230004|Siti/);
  t.match(JSON.parse(stored), { state: 'failed', version: 2, lastError: { code: 'upstream.http-422', httpStatus: 422 }, resources: [{ id: 'P1' }] });
  t.same(payload.openStatus('rec-1', 'sandbox', stored), { status });
  const moved = payload.openStatus('rec-2', 'sandbox', stored);
  t.match(moved.unreadable, { keyId: 'a', reason: 'tampered' }, 'bound to its record');
  t.equal(moved.status.state, 'failed', 'the state is still read');
  t.notOk(moved.status.outcome);
  const plainState = { state: 'queued', version: 1, attempts: 0, updatedAt: 'x' } as UpstreamStatus;
  t.same(JSON.parse(payload.sealStatus('rec-1', 'sandbox', plainState)), plainState, 'nothing to seal: as it was');
});

t.test('a record whose payload cannot be opened shows its states but neither names nor the upstream words', async (t) => {
  const writer = new StoredPayload(new PayloadCipher({ current: 'a', keys: { a: KEY_A } }));
  const reader = new StoredPayload(new PayloadCipher({ current: 'b', keys: { a: KEY_B, b: KEY_B } }));
  const status: UpstreamStatus = {
    state: 'failed', version: 1, attempts: 1, updatedAt: 'x',
    lastError: { code: 'upstream.http-422', message: 'Siti Aminah refused', at: 'x' },
    outcome: { issue: [{ diagnostics: 'Siti Aminah' }] },
  };
  const sealed = writer.seal('app', 'PB-1', { record: { subject: { name: 'Siti Aminah' } }, bundle: { resourceType: 'Bundle', type: 'transaction' } });
  const hash = { id: Buffer.from('rec-1'), source: Buffer.from('app'), recordId: Buffer.from('PB-1'), record: sealed.record!, 'u:sandbox': Buffer.from(writer.sealStatus('rec-1', 'sandbox', status)) };
  const changedKey = reader.openRecord(hash);
  t.match(changedKey.unreadable, { keyId: 'a', reason: 'tampered' }, 'the same id with other key bytes');
  t.notOk(changedKey.record);
  t.equal(changedKey.upstreams.sandbox?.state, 'failed');
  t.notMatch(JSON.stringify(changedKey), /Siti/);
  // the record unreadable, its state readable (sealed with a key the reader has): the words still go
  const mixed = new StoredPayload(new PayloadCipher({ current: 'b', keys: { b: KEY_B } }));
  const opened = mixed.openRecord({ ...hash, 'u:sandbox': Buffer.from(mixed.sealStatus('rec-1', 'sandbox', status)) });
  t.match(opened.unreadable, { keyId: 'a', reason: 'key-missing' });
  t.notMatch(JSON.stringify(opened), /Siti/, 'no words to mask them with: left out');
  const garbage = writer.openRecord({ ...hash, record: Buffer.from('not json, not sealed') });
  t.match(garbage.unreadable, { reason: 'tampered' }, 'a value neither sealed nor JSON is a changed one');
});

t.test('keys generated by two processes have different ids: the other one is missing, not tampered', async (t) => {
  const idA = generatedKeyId(KEY_A);
  const idB = generatedKeyId(KEY_B);
  t.not(idA, idB);
  t.equal(idA, generatedKeyId(KEY_A), 'the same key always has the same id');
  t.match(idA, /^local-[0-9a-f]{8}$/);
  const sealed = new PayloadCipher({ current: idA, keys: { [idA]: KEY_A } }).seal(plain, place);
  unreadable(t, () => new PayloadCipher({ current: idB, keys: { [idB]: KEY_B } }).open(sealed, place), idA, 'key-missing');
});
