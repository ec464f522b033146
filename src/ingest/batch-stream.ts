import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';

// Reading a batch one record at a time, so that memory does not grow with the batch: NDJSON line by
// line, or the elements of a JSON array as they arrive. A record that is not JSON is reported in
// its place; it does not stop the batch.

export type BatchItem = { ok: true; value: unknown } | { ok: false; text: string };

export async function* ndjsonItems(stream: Readable): AsyncGenerator<BatchItem> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    yield parse(line);
  }
}

/** The top-level elements of a JSON array, split by tracking strings and nesting depth. */
export async function* jsonArrayItems(stream: Readable): AsyncGenerator<BatchItem> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let started = false;
  let current = '';
  for await (const chunk of stream) {
    const text = typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    for (const ch of text) {
      if (!started) {
        if (ch === '[') started = true;
        else if (!/\s/.test(ch)) throw new BatchShapeError();
        continue;
      }
      if (inString) {
        current += ch;
        if (escaped) escaped = false;
        else if (ch === '\\') escaped = true;
        else if (ch === '"') inString = false;
        continue;
      }
      if (depth === 0 && (ch === ',' || ch === ']')) {
        if (current.trim() !== '') yield parse(current);
        current = '';
        if (ch === ']') return;
        continue;
      }
      if (ch === '"') inString = true;
      else if (ch === '{' || ch === '[') depth += 1;
      else if (ch === '}' || ch === ']') depth -= 1;
      current += ch;
    }
  }
  if (!started) throw new BatchShapeError();
}

export class BatchShapeError extends Error {
  override name = 'BatchShapeError';
}

function parse(text: string): BatchItem {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, text: text.slice(0, 200) };
  }
}
