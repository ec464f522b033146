import { GerbangError, type Issue } from '../errors/gerbang-error.js';
import { acceptRecord, mayReadHistory, outOfScope, storeCall, type Accepted, type IngestDeps } from './accept-record.js';
import { refusalShownTo } from './history-shown.js';
import { prepareItem } from './prepare-item.js';
import type { Adapted } from '../records/adapters/adapter.js';

export interface Ingested extends Accepted {
  result: 'accepted';
  kind: string;
  provenance?: Adapted['provenance'];
  warnings: Issue[];
}

/** A record of a multi-record row that was refused while the others of its row went in. */
export interface RefusedPart {
  result: 'refused';
  kind?: string;
  provenance?: Adapted['provenance'];
  error: GerbangError;
}

/**
 * One item an app sent: a canonical record, or (with `source` naming an adapter) the app's own
 * record, which may hold several canonical records. Each of those goes in on its own: when some are
 * refused, the others are still accepted and the refused ones are answered next to them. Throws the
 * GerbangError that refuses the item when none of its records can go in.
 */
export async function ingest(body: unknown, source: string, deps: IngestDeps, now: Date, posyandu?: string): Promise<Array<Ingested | RefusedPart>> {
  let out: Array<Ingested | RefusedPart>;
  try {
    out = await ingestParts(body, source, deps, now, posyandu);
  } catch (err) {
    // The whole item is refused: counted once, under the kind it says it is (if it is one).
    if (err instanceof GerbangError) deps.metrics?.recordRefused((body as { kind?: unknown } | null)?.kind, err.code);
    throw err;
  }
  for (const part of out) {
    if (part.result === 'refused') deps.metrics?.recordRefused(part.kind, part.error.code);
    else deps.metrics?.recordAccepted(part.kind, part.outcome);
  }
  return out;
}

async function ingestParts(body: unknown, source: string, deps: IngestDeps, now: Date, posyandu?: string): Promise<Array<Ingested | RefusedPart>> {
  // The scope first: the history of a person is read only for a place the caller covers.
  const history = (r: unknown) => (mayReadHistory(r, deps) ? storeCall(() => deps.history.forRecord(r)) : Promise.resolve(undefined));
  const parts = await prepareItem(body, source, { facilities: deps.config.facilities, ...(deps.adapters ? { adapters: deps.adapters } : {}), now, ...(posyandu ? { posyandu } : {}), history });
  const out: Array<Ingested | RefusedPart> = [];
  for (const part of parts) {
    const provenance = part.adapted ? { provenance: part.adapted.provenance } : {};
    const kind = part.kind === undefined ? {} : { kind: part.kind };
    const refusal = outOfScope(part.body, deps);
    if (refusal) {
      out.push({ result: 'refused', ...kind, ...provenance, error: refusal });
      continue;
    }
    if (!part.result.ok) {
      const issues = deps.mayWrite ? refusalShownTo(part.result.issues, part.result.historyFrom, deps.mayWrite, part.body) : part.result.issues;
      out.push({ result: 'refused', ...kind, ...provenance, error: new GerbangError('record.invalid', issues) });
      continue;
    }
    try {
      const accepted = await acceptRecord(part.body, part.result.prepared, source, deps, now, part.adapted);
      out.push({ ...accepted, result: 'accepted', kind: part.result.prepared.record.kind, ...provenance });
    } catch (err) {
      if (!(err instanceof GerbangError) || err.code === 'store.unavailable') throw err;
      out.push({ result: 'refused', ...kind, ...provenance, error: err });
    }
  }
  const refused = out.filter((o): o is RefusedPart => o.result === 'refused');
  if (refused.length === out.length) throw wholeRefusal(refused);
  return out;
}

/** No record of the item went in: one refusal, with every record's problems. */
function wholeRefusal(refused: RefusedPart[]): GerbangError {
  const [first] = refused;
  if (!first) throw new Error('an item always has a record or a refusal');
  if (refused.length === 1) return first.error;
  return new GerbangError(first.error.code, refused.flatMap((r) => r.error.issues));
}
