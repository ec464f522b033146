import { gunzipSync, gzipSync } from 'node:zlib';
import type { Bundle } from '@medplum/fhirtypes';

// A mapped Bundle is about 12 KB of JSON that repeats the same systems and codes; gzip at its
// fastest level stores it in about 2 KB for some 30 µs. It is most of what a queued record costs
// in Redis memory and in the append-only file, and Redis must hold a whole backlog in memory.
// The record and the provenance are packed the same way before they are sealed (payload-cipher.ts):
// sealed bytes do not compress any more.
const GZIP_MAGIC = 0x1f;

export function packJson(value: unknown): Buffer {
  return gzipSync(JSON.stringify(value), { level: 1 });
}

/** Reads a packed value: gzip, or the plain JSON text that earlier versions stored. */
export function unpackJson<T>(stored: Buffer): T {
  const text = stored[0] === GZIP_MAGIC ? gunzipSync(stored).toString('utf8') : stored.toString('utf8');
  return JSON.parse(text) as T;
}

export function packBundle(bundle: Bundle): Buffer {
  return packJson(bundle);
}

/** Reads a stored Bundle: gzip, or the plain JSON text that Gerbang 0.3.0 stored. */
export function unpackBundle(stored: Buffer): Bundle {
  return unpackJson<Bundle>(stored);
}
