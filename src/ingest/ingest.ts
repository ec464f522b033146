import type { Issue } from '../errors/gerbang-error.js';
import { acceptRecord, type Accepted, type IngestDeps } from './accept-record.js';
import { adaptRecord, isAdapter } from './adapt-record.js';
import type { Adapted } from '../records/adapters/adapter.js';

export interface Ingested extends Accepted {
  kind: string;
  provenance?: Adapted['provenance'];
  warnings: Issue[];
}

/**
 * One item an app sent: a canonical record, or (with `source` naming an adapter) the app's own
 * record, which may hold several canonical records. Throws the GerbangError that refuses it.
 */
export async function ingest(body: unknown, source: string, deps: IngestDeps, now: Date, posyandu?: string): Promise<Ingested[]> {
  const inputs: Array<{ body: unknown; adapted?: Adapted }> = isAdapter(source)
    ? adaptRecord(body, source, deps.config.facilities, now, posyandu).map((a) => ({ body: a.record, adapted: a }))
    : [{ body }];
  const out: Ingested[] = [];
  for (const input of inputs) {
    const accepted = await acceptRecord(input.body, source, deps, now, input.adapted);
    out.push({
      ...accepted,
      kind: (input.body as { kind: string }).kind,
      ...(input.adapted ? { provenance: input.adapted.provenance } : {}),
    });
  }
  return out;
}
