import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { GerbangError } from '../errors/gerbang-error.js';
import { parseClientJson } from './json-text.js';

// Reading a batch one record at a time, so that memory does not grow with the batch: NDJSON line by
// line, or the elements of a JSON array as they arrive. Memory is bounded by the record limit, not
// by what a client sends: a record over it is skipped as it streams past (never held whole) and
// reported in its place, like a record that is not JSON; neither stops the batch. The request as a
// whole has its own limit, past which reading stops.

export interface BatchLimits {
  recordMaxBytes: number;
  requestMaxBytes: number;
  maxDepth: number;
}

export type BatchItem = { ok: true; value: unknown } | { ok: false; error: GerbangError };

export class BatchShapeError extends Error {
  override name = 'BatchShapeError';
}

/** The request grew past its limit; the records before it were read. */
export class BatchTooLargeError extends Error {
  override name = 'BatchTooLargeError';
  constructor(readonly limit: number) {
    super('batch over its byte limit');
  }
}

export async function* ndjsonItems(stream: Readable, limits: BatchLimits): AsyncGenerator<BatchItem> {
  const record = new RecordText(limits);
  for await (const text of textWithin(stream, limits.requestMaxBytes)) {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      record.append(nl === -1 ? text.slice(start) : text.slice(start, nl));
      if (nl === -1) break;
      const item = record.take();
      if (item) yield item;
      start = nl + 1;
    }
  }
  const last = record.take();
  if (last) yield last;
}

/** The top-level elements of a JSON array, split by tracking strings and nesting depth. */
export async function* jsonArrayItems(stream: Readable, limits: BatchLimits): AsyncGenerator<BatchItem> {
  const record = new RecordText(limits);
  let depth = 0;
  let inString = false;
  let escaped = false;
  let started = false;
  for await (const text of textWithin(stream, limits.requestMaxBytes)) {
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (!started) {
        if (ch === '[') started = true;
        else if (!/\s/.test(ch!)) throw new BatchShapeError();
        from = i + 1;
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (ch === '\\') escaped = true;
        else if (ch === '"') inString = false;
        continue;
      }
      if (depth === 0 && (ch === ',' || ch === ']')) {
        record.append(text.slice(from, i));
        from = i + 1;
        const item = record.take();
        if (item) yield item;
        if (ch === ']') return;
        continue;
      }
      if (ch === '"') inString = true;
      else if (ch === '{' || ch === '[') depth += 1;
      else if (ch === '}' || ch === ']') depth -= 1;
    }
    if (started) record.append(text.slice(from));
  }
  if (!started) throw new BatchShapeError();
  // an array that never closed: its unfinished last element is answered (as not JSON), not lost
  const last = record.take();
  if (last) yield last;
}

/** The decoded text of a body, chunk by chunk (characters split across chunks kept whole), up to a byte limit. */
async function* textWithin(stream: Readable, maxBytes: number): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += buf.length;
    if (bytes > maxBytes) throw new BatchTooLargeError(maxBytes);
    yield decoder.write(buf);
  }
  const rest = decoder.end();
  if (rest) yield rest;
}

/** One record's text as it arrives; past the record limit only its size is kept. */
class RecordText {
  private parts: string[] = [];
  private bytes = 0;

  constructor(private readonly limits: BatchLimits) {}

  append(piece: string): void {
    if (piece === '') return;
    this.bytes += Buffer.byteLength(piece);
    if (this.bytes > this.limits.recordMaxBytes) this.parts = [];
    else this.parts.push(piece);
  }

  /** The record read so far, as an item (undefined for blank text), and a fresh start. */
  take(): BatchItem | undefined {
    const over = this.bytes > this.limits.recordMaxBytes;
    const text = this.parts.join('');
    this.parts = [];
    this.bytes = 0;
    if (over) return { ok: false, error: new GerbangError('batch.record-too-large', [{ key: 'batch.record-too-large', severity: 'error', params: { limit: this.limits.recordMaxBytes } }]) };
    if (text.trim() === '') return undefined;
    try {
      return { ok: true, value: parseClientJson(text, this.limits.maxDepth) };
    } catch (err) {
      if (err instanceof GerbangError) return { ok: false, error: err };
      throw err;
    }
  }
}
