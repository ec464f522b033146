import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';

// NIK, names, tokens and secrets never reach a log line. Two layers: known fields are removed by
// path, and anything that looks like a NIK (16 digits) is masked in every error message and stack,
// which is where an upstream's answer or a library could echo a payload back.
const redactPaths = [
  'nik', '*.nik', '*.*.nik', 'name', '*.name', '*.*.name',
  'record', '*.record', 'bundle', '*.bundle', 'body', '*.body', 'payload', '*.payload',
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization',
  'token', '*.token', 'accessToken', '*.accessToken', 'clientSecret', '*.clientSecret', 'secret', '*.secret',
  'password', '*.password',
];

const NIK_LIKE = /\d{16}/g;

export function maskDigits(text: string): string {
  return text.replace(NIK_LIKE, '****************');
}

function errSerializer(err: Error) {
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const key of ['message', 'stack']) {
    if (typeof out[key] === 'string') out[key] = maskDigits(out[key]);
  }
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gerbang' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: { err: errSerializer, error: errSerializer },
      hooks: {
        // msg strings are written by us, but mask anyway: a message built from an upstream's text
        // must not carry a NIK.
        logMethod(args, method) {
          const i = typeof args[0] === 'string' ? 0 : 1;
          if (typeof args[i] === 'string') args[i] = maskDigits(args[i] as string);
          return method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
