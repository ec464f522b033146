import pg from 'pg';
import t from 'tap';
import { RateLimitedLog, maskDigits, serializeError, serializeRequest } from '../../src/log/logger.js';

t.test('an error is written through an allow-list', async (t) => {
  const err = Object.assign(new Error('OOM refused {"nik":"3201015503230004","name":"Siti Aminah"} for \'Siti Aminah\''), {
    code: 'ERR',
    command: { name: 'evalsha', args: ['{"subject":{"nik":"3201015503230004"}}'] },
    previousErrors: [new Error('Siti Aminah 3201015503230004')],
    response: { body: 'Siti Aminah' },
  });
  const out = serializeError(new Error('wrapped', { cause: err }));
  const text = JSON.stringify(out);
  t.notMatch(text, /Siti|3201015503230004|command|previousErrors|response/, text);
  t.equal(out.cause?.code, 'ERR', 'the code is kept');
  t.match(out.cause?.message ?? '', /^OOM refused/, 'the words of the message are kept');
  t.ok((out.stack ?? '').split('\n').length <= 8, 'a short stack');
  t.equal(serializeError('a thrown string 3201015503230004').message, 'a thrown string ****************');
});

t.test("a PostgreSQL error: its code, never the row it quotes (detail, where, the statement's parameters)", async (t) => {
  // As pg raises it for a write the server refused: the values are in detail, not in the message.
  const err = Object.assign(new pg.DatabaseError('duplicate key value violates unique constraint "record_keys_pkey"', 0, 'error'), {
    code: '23505',
    detail: 'Key (subject)=(3201015503230004 Siti Aminah) already exists.',
    where: 'SQL statement "INSERT INTO records VALUES (\'Siti Aminah\')"',
    table: 'record_keys',
    parameters: ['Siti Aminah', '3201015503230004'],
  });
  const text = JSON.stringify(serializeError(new Error('accept failed', { cause: err })));
  t.notMatch(text, /Siti|3201015503230004|detail|where|parameters|record_keys"/, text);
  t.match(text, /"type":"DatabaseError"/);
  t.match(text, /"code":"23505"/, 'the SQLSTATE is kept');
});

t.test('NIKs written in groups are masked too', async (t) => {
  for (const form of ['3201015503230004', '3201 0155 0323 0004', '3201-0155-0323-0004', '3201.0155.0323.0004']) {
    t.equal(maskDigits(`nik ${form}!`), 'nik ****************!', form);
  }
  t.equal(maskDigits('took 12.3456 ms at 1796118305947'), 'took 12.3456 ms at 1796118305947', 'shorter numbers stay');
});

t.test('a repeated error class is logged once per window, with the count left out', async (t) => {
  const limiter = new RateLimitedLog(10_000);
  t.same(limiter.admit('store', 0), { log: true, repeated: 0 });
  for (let i = 1; i <= 5; i++) t.same(limiter.admit('store', i * 1000), { log: false, repeated: 0 });
  t.same(limiter.admit('other', 3000), { log: true, repeated: 0 }, 'another class has its own window');
  t.same(limiter.admit('store', 10_001), { log: true, repeated: 5 }, 'the next line says how many were left out');
});

t.test('a request is logged without what a client put in its URL', async (t) => {
  const out = serializeRequest({ method: 'GET', url: '/v1/records/3201015503230004?name=Siti%20Aminah&nik=3201-0155', ip: '10.0.0.1' });
  t.same(out, { method: 'GET', url: '/v1/records/****************?name&nik', remoteAddress: '10.0.0.1' });
  t.equal(serializeRequest({ method: 'GET', url: '/v1/records/Siti%20Aminah' }).url, '/v1/records/…', 'a name in the path is left out');
  t.equal(serializeRequest({ method: 'GET', url: '/v1/records/8550a69c-a63e-4109-9879-6efc34e77e2e' }).url, '/v1/records/8550a69c-a63e-4109-9879-6efc34e77e2e', 'an id is kept');
  t.equal(serializeRequest({ method: 'GET', url: '/dashboard/%E0%A4%A' }).url, '/dashboard/…', 'an undecodable part is left out');
});
