import { pino, type DestinationStream, type Logger } from 'pino';

// NIK, names, tokens and secrets never reach a log line. Three layers: known fields are removed by
// path; errors are written through an allow-list (a library's error carries whatever it was asked
// to do: ioredis puts every argument of the refused command, i.e. the whole record, on the error);
// and anything that looks like a NIK is masked in every message, which is where an upstream's
// answer or a library could echo a payload back.
const redactPaths = [
  'nik', '*.nik', '*.*.nik', 'name', '*.name', '*.*.name',
  'record', '*.record', 'bundle', '*.bundle', 'body', '*.body', 'payload', '*.payload',
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization',
  'token', '*.token', 'accessToken', '*.accessToken', 'clientSecret', '*.clientSecret', 'secret', '*.secret',
  'password', '*.password',
];

// 16 digits, also written in groups with spaces, dots or dashes (3201 0155 0323 0004)
const NIK_LIKE = /(?<!\d)\d(?:[ .-]?\d){15}(?!\d)/g;
// a quoted string or a JSON object/array inside a message: a value someone sent, never needed to
// understand the error
const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g;
const JSON_LIKE = /[{[][^]*[}\]]/g;
const MAX_MESSAGE = 300;
const STACK_FRAMES = 8;

export function maskDigits(text: string): string {
  return text.replace(NIK_LIKE, '****************');
}

/** An error's message with what could be a person's data taken out. */
function scrubMessage(text: string): string {
  return maskDigits(text.replace(JSON_LIKE, '{…}').replace(QUOTED, '"…"')).slice(0, MAX_MESSAGE);
}

type Serialized = { type: string; message: string; code?: string | number; statusCode?: number; stack?: string; cause?: Serialized };

/**
 * The only fields of an error that reach a log: its class, a scrubbed message, its code, a short
 * stack (frames only: the stack's first line repeats the message) and, one level down, its cause.
 * Everything else an error carries (`command`, `args`, `previousErrors`, a response body) is left out.
 */
export function serializeError(err: unknown, depth = 0): Serialized {
  if (!(err instanceof Error)) return { type: typeof err, message: scrubMessage(typeof err === 'string' ? err : 'non-error thrown') };
  const e = err as Error & { code?: unknown; statusCode?: unknown };
  const out: Serialized = { type: e.constructor?.name || e.name || 'Error', message: scrubMessage(typeof e.message === 'string' ? e.message : '') };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = typeof e.code === 'string' ? e.code.slice(0, 64) : e.code;
  if (typeof e.statusCode === 'number') out.statusCode = e.statusCode;
  if (typeof e.stack === 'string') {
    const frames = e.stack.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, STACK_FRAMES);
    if (frames.length > 0) out.stack = maskDigits(frames.map((l) => l.trim()).join('\n'));
  }
  if (depth < 1 && e.cause !== undefined) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

const URL_PART = /^[A-Za-z0-9._$~-]{1,64}$/;

/** A URL part as it may be logged: NIK-like digits masked; anything not shaped like an id or a word left out. */
function loggablePart(part: string): string {
  let decoded = part;
  try {
    decoded = decodeURIComponent(part);
  } catch {
    return '…';
  }
  return URL_PART.test(decoded) ? maskDigits(decoded) : '…';
}

/**
 * A request as it reaches a log line: the method, the path (ids kept, a NIK or a name someone put
 * in it not) and the names of the query parameters without their values, which may be anything.
 */
export function serializeRequest(req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }) {
  const [path = '', query] = (req.url ?? '').split('?', 2);
  const keys = query ? query.split('&').map((p) => loggablePart(p.split('=')[0] ?? '')) : [];
  return {
    method: req.method,
    url: path.split('/').map((seg) => (seg === '' ? '' : loggablePart(seg))).join('/') + (keys.length > 0 ? `?${keys.join('&')}` : ''),
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
  };
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gerbang' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError, cause: serializeError, req: serializeRequest },
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

/**
 * Logs an error class at most once per `windowMs`, with how many were left out since: an outage
 * that refuses every record must not write one line per record.
 */
export class RateLimitedLog {
  private readonly seen = new Map<string, { last: number; suppressed: number }>();

  constructor(private readonly windowMs = 10_000) {}

  /** Whether to log now; `repeated` is how many of this class went unlogged since the last line. */
  admit(errorClass: string, now = Date.now()): { log: boolean; repeated: number } {
    const s = this.seen.get(errorClass);
    if (s && now - s.last < this.windowMs) {
      s.suppressed += 1;
      return { log: false, repeated: 0 };
    }
    const repeated = s?.suppressed ?? 0;
    this.seen.set(errorClass, { last: now, suppressed: 0 });
    // error classes are a few codes, but a map that only grows is a leak waiting for a new key
    if (this.seen.size > 1_000) this.seen.clear();
    return { log: true, repeated };
  }
}

/** An error's class for rate limiting: its type and code, never its message. */
export function errorClass(where: string, err: unknown): string {
  const e = err as { constructor?: { name?: string }; code?: unknown } | null;
  return `${where}:${e?.constructor?.name ?? typeof err}:${typeof e?.code === 'string' ? e.code : ''}`;
}

const repeatedErrors = new RateLimitedLog();

/**
 * Logs an error that can repeat for every request or job (a store refusing writes, an upstream
 * down): one line per error class per 10 s, saying how many were left out since the last one.
 */
export function logRepeated(log: Pick<Logger, 'warn' | 'error'>, level: 'warn' | 'error', where: string, err: unknown, fields: Record<string, unknown>, msg: string): void {
  const { log: now, repeated } = repeatedErrors.admit(errorClass(where, err));
  if (now) log[level]({ ...fields, err, ...(repeated > 0 ? { repeated } : {}) }, msg);
}
