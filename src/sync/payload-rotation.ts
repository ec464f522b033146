import type { Redis } from 'ioredis';
import { PayloadCipher, PayloadUnreadableError } from './payload-cipher.js';
import { SEALED_FIELDS, type StoredPayload } from './stored-payload.js';
import type { UpstreamStatus } from './states.js';
import { RECORD_FIELDS as F, SEALED_WORDS_PROPERTY, scanPattern, upstreamOfField, type StoreKeys } from './store/keys.js';
import { defineScripts, runScript } from './store/scripts.js';

// `gerbang keys rotate-payloads`: every stored payload sealed with another key than the current
// one (or written in clear before payloads were sealed) is sealed again with the current key.
// The gateway may keep running: each value is replaced only if it is still the one that was read
// (a new version or a new state written meanwhile is left alone, and is already sealed with the
// current key by the processes that wrote it, once they run with the new configuration).
// Records are found by a SCAN of the record keys under the configured prefix (redis.keyPrefix).

export interface RotationReport {
  /** records looked at */
  records: number;
  /** values sealed again with the current key */
  resealed: number;
  /** values changed by the gateway while the command ran (already written anew) */
  changedMeanwhile: number;
  /** values that cannot be opened, by key id and reason: they stay as they are */
  unreadable: Record<string, { reason: PayloadUnreadableError['reason']; count: number; examples: string[] }>;
}


/** Counts a value that could not be opened under its key id, with a few record ids as examples. */
export function noteUnreadable(report: RotationReport, id: string, err: PayloadUnreadableError): void {
  const entry = (report.unreadable[err.keyId] ??= { reason: err.reason, count: 0, examples: [] });
  entry.count += 1;
  if (entry.examples.length < 10 && !entry.examples.includes(id)) entry.examples.push(id);
}

export async function rotatePayloads(redis: Redis, payload: StoredPayload, keys: StoreKeys, opts: { scanCount?: number } = {}): Promise<RotationReport> {
  defineScripts(redis);
  const pattern = scanPattern(keys.record(''));
  const report: RotationReport = { records: 0, resealed: 0, changedMeanwhile: 0, unreadable: {} };
  const unreadable = (id: string, err: PayloadUnreadableError) => noteUnreadable(report, id, err);
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', opts.scanCount ?? 500, 'TYPE', 'hash');
    cursor = next;
    for (const key of found) {
      const h = await redis.hgetallBuffer(key);
      const id = h[F.id]?.toString();
      if (!id) continue;
      report.records += 1;
      const replacements: Array<string | Buffer> = [];
      const source = h[F.source]?.toString() ?? '';
      const recordId = h[F.recordId]?.toString() ?? '';
      for (const field of SEALED_FIELDS) {
        const stored = h[field];
        if (!stored || !payload.cipher.needsRotation(stored)) continue;
        try {
          replacements.push(field, stored, payload.sealField(field, source, recordId, payload.openField(field, source, recordId, stored)));
        } catch (err) {
          if (!(err instanceof PayloadUnreadableError)) throw err;
          unreadable(id, err);
        }
      }
      for (const [field, value] of Object.entries(h)) {
        const upstream = upstreamOfField(field);
        if (upstream === undefined) continue;
        const text = value.toString('utf8');
        if (!statusNeedsRotation(text, payload.cipher)) continue;
        const { status, unreadable: problem } = payload.openStatus(id, upstream, text);
        if (problem) {
          unreadable(id, new PayloadUnreadableError(problem.keyId, problem.reason));
          continue;
        }
        replacements.push(field, value, payload.sealStatus(id, upstream, status));
      }
      if (replacements.length === 0) continue;
      const done = await runScript<number>(redis, 'replace-if-unchanged', [key], replacements);
      report.resealed += done;
      report.changedMeanwhile += replacements.length / 3 - done;
    }
  } while (cursor !== '0');
  return report;
}

/** A state whose upstream words are in clear (written before they were sealed) or sealed with an older key. */
export function statusNeedsRotation(text: string, cipher: PayloadCipher): boolean {
  const s = JSON.parse(text) as UpstreamStatus & Record<typeof SEALED_WORDS_PROPERTY, unknown>;
  const sealed = s[SEALED_WORDS_PROPERTY];
  if (typeof sealed === 'string') return cipher.needsRotation(Buffer.from(sealed, 'base64'));
  return s.outcome !== undefined || typeof s.lastError?.message === 'string';
}

/**
 * Has Redis rewrite its append-only file, so the values just replaced (sealed with the old key, or
 * in clear) leave the disk too, and waits for the rewrite to end (a server stopped during it keeps
 * the old file). `not-started` when Redis refused (no append-only file, or not allowed).
 */
export async function rewriteAppendOnlyFile(redis: Redis, timeoutMs = 120_000): Promise<'done' | 'not-started' | 'still-running'> {
  try {
    await redis.bgrewriteaof();
  } catch {
    return 'not-started';
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = await redis.info('persistence');
    if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return 'done';
    await new Promise((r) => setTimeout(r, 100));
  }
  return 'still-running';
}
