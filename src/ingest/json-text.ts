import { GerbangError } from '../errors/gerbang-error.js';

// What every JSON body a client sends must be before any record code sees it. JSON.parse takes
// any depth, but the code after it (structuredClone, the schema check, the mappers) recurses, and a
// few thousand nested objects exhaust the stack; a record is a handful of levels deep. Keys that
// shadow Object.prototype (`toString`, `valueOf`, `constructor`, …) are refused too: no record has
// such a field, and a value carrying them breaks every `String(value)` and `table[key]` look-up
// behind it.

const RESERVED_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'toJSON', 'prototype']);

/** Parses one JSON text a client sent; throws the GerbangError (4xx) that refuses it. */
export function parseClientJson(text: string, maxDepth: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GerbangError('request.not-json');
  }
  checkClientJson(value, maxDepth);
  return value;
}

/** Walks a parsed value without recursion (so that the walk itself cannot overflow). */
export function checkClientJson(value: unknown, maxDepth: number): void {
  const stack: Array<{ node: unknown; path: string[] }> = [{ node: value, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (path.length >= maxDepth) {
      throw new GerbangError('request.too-deep', [{ key: 'request.too-deep', severity: 'error', path: dotted(path), params: { limit: maxDepth } }]);
    }
    const entries = Array.isArray(node) ? node.map((v, i) => [String(i), v] as const) : Object.entries(node);
    for (const [key, child] of entries) {
      if (!Array.isArray(node) && RESERVED_KEYS.has(key)) {
        throw new GerbangError('request.reserved-key', [{ key: 'request.reserved-key', severity: 'error', path: dotted([...path, key]), params: { name: key } }]);
      }
      stack.push({ node: child, path: [...path, key] });
    }
  }
}

/** `["subject", "0", "nik"]` → `subject[0].nik`, as every other issue path is written. */
function dotted(path: string[]): string {
  return path.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}
