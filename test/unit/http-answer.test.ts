import t from 'tap';
import { errors as undiciErrors } from 'undici';
import { deliveryCodeInfo, networkDeliveryCode } from '../../src/errors/codes.js';
import { isTransportError, networkCode } from '../../src/upstream/http-answer.js';

// What counts as a call that did not get an answer (retried), what is a bug (not hidden as a
// retry), and that each one's code is a delivery code of the table.

const systemError = (code: string) => Object.assign(new Error(`getaddrinfo ${code} example`), { code });

t.test('system and undici errors are transport errors, with a code of the table', async (t) => {
  for (const [err, code] of [
    [systemError('ECONNRESET'), 'econnreset'],
    [systemError('ENOTFOUND'), 'enotfound'],
    // a name server that did not answer in time: the next attempt may well resolve
    [systemError('EAI_AGAIN'), 'eai-again'],
    [Object.assign(new Error('closed'), { code: 'UND_ERR_CLOSED' }), 'und-err-closed'],
    [new undiciErrors.SocketError('other side closed'), 'socket'],
    [new undiciErrors.HeadersTimeoutError(), 'headers-timeout'],
  ] as const) {
    t.ok(isTransportError(err), `${code}: transport`);
    t.equal(networkCode(err), code);
    t.ok(deliveryCodeInfo(networkDeliveryCode(code)), `upstream.${code} is a code the table knows`);
  }
});

t.test("Node's own ERR_* codes and plain errors are bugs, not retries", async (t) => {
  t.notOk(isTransportError(Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' })));
  t.notOk(isTransportError(Object.assign(new TypeError('bad arg'), { code: 'ERR_INVALID_ARG_TYPE' })));
  t.notOk(isTransportError(new Error('no code')));
  t.notOk(isTransportError(Object.assign(new Error('lower'), { code: 'econnreset' })));
});
