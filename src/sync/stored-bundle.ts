import { gunzipSync, gzipSync } from 'node:zlib';
import type { Bundle } from '@medplum/fhirtypes';

// A mapped Bundle is about 12 KB of JSON that repeats the same systems and codes; gzip at its
// fastest level stores it in about 2 KB for some 30 µs. It is most of what a queued record costs
// in Redis memory and in the append-only file, and Redis must hold a whole backlog in memory.
const GZIP_MAGIC = 0x1f;

export function packBundle(bundle: Bundle): Buffer {
  return gzipSync(JSON.stringify(bundle), { level: 1 });
}

/** Reads a stored Bundle: gzip, or the plain JSON text that Gerbang 0.3.0 stored. */
export function unpackBundle(stored: Buffer): Bundle {
  const text = stored[0] === GZIP_MAGIC ? gunzipSync(stored).toString('utf8') : stored.toString('utf8');
  return JSON.parse(text) as Bundle;
}
