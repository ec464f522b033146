// The records a bench run sends, and the Bundles the worker will send for them.
import { validAnthropometry } from '../../test/fixtures/records.js';
import type { Config } from '../../src/config/types.js';

const dist = (m: string) => import(new URL(`../../dist/${m}`, import.meta.url).href);

/**
 * A backlog holds many children, one or a few records each: each record here is another child (a
 * NIK serial of its own, `child`), so per-child ordering does not serialise the whole run.
 */
export function recordBody(part: string, child: number, n: number): string {
  const nik = `${validAnthropometry.subject.nik.slice(0, 12)}${String((child % 9999) + 1).padStart(4, '0')}`;
  return JSON.stringify({ ...validAnthropometry, recordId: `BENCH-${part}-${process.pid}-${child}-${n}`, subject: { ...validAnthropometry.subject, nik }, weightKg: 8 + (n % 40) / 10 });
}

let seq = 0;
/** The next record of a stream of them, each for the next child. */
export function nextBody(part = 'ingest'): string {
  seq += 1;
  return recordBody(part, seq, seq);
}

/**
 * The JSON text of the Bundle the gateway makes of each body (its own mapping, prepareRecord,
 * from dist/), for the raw baseline to send: what the worker sends, without reading the store.
 * Without history, as the bench's records are each a child's first.
 */
export async function bundlesFor(bodies: readonly string[], source: string, facilities: Config['facilities']): Promise<string[]> {
  const { prepareRecord } = (await dist('ingest/prepare-record.js')) as typeof import('../../src/ingest/prepare-record.js');
  ((await dist('roles/tables.js')) as typeof import('../../src/roles/tables.js')).loadTables();
  const now = new Date();
  return bodies.map((b) => {
    const p = prepareRecord(JSON.parse(b), source, facilities, now);
    if (!p.ok) throw new Error(`the bench's record is refused: ${JSON.stringify(p.issues)}`);
    return JSON.stringify(p.prepared.bundle);
  });
}
