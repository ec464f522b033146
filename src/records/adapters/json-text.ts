import { at, placeOf, replaceAt, type Relations } from './paths.js';
import { isBlank } from './values.js';

// Apps that keep a structure in a text column (Laravel's json_encode without a cast, a JSON column
// read as text) send it as JSON text. An adapter names such paths; they are read as the structure
// the text holds, in a copy of the row, so every path, condition and `each` sees the structure.

export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A path (as the adapter names it), its place in the row, and the text that cannot be read. */
export interface Unreadable {
  path: string;
  place: string;
  value: string;
}

/**
 * The row with each path's JSON text (an object or a list) read into it; a value that is already a
 * structure is left as it is, so the adapter holds when the app starts casting the column.
 */
export function readJsonText(row: unknown, paths: readonly string[], relations: Relations): { row: unknown; unreadable?: Unreadable } {
  let out = row;
  for (const path of paths) {
    const v = at(out, path, relations);
    if (typeof v !== 'string' || isBlank(v)) continue;
    const parsed = parseJsonText(v);
    const place = placeOf(out, path, relations);
    if (parsed === null || typeof parsed !== 'object') return { row: out, unreadable: { path, place, value: v } };
    out = replaceAt(out, place, parsed);
  }
  return { row: out };
}
