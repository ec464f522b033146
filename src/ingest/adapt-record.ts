import type { Config } from '../config/types.js';
import type { Issue } from '../errors/gerbang-error.js';
import { runAdapter, type Adapted } from '../records/adapters/adapter.js';
import { shippedAdapters, type AdapterRegistry } from '../records/adapters/registry.js';
import { prepareRecord } from './prepare-record.js';

export function isAdapter(source: string, adapters: AdapterRegistry = shippedAdapters()): boolean {
  return adapters.has(source);
}

/** One canonical record an adapter read from a row, with the problems it alone has. */
export interface AdaptedPart {
  /** absent when the row as a whole holds no record (not an object, no `when` matches) */
  adapted?: Adapted;
  kind?: string;
  issues: Issue[];
}

/**
 * An app's native row through its adapter, to canonical records, each judged on its own so that
 * a bad record does not hold back the good ones of the same row. When some values of a record
 * cannot be read, the rest of it is still checked, so the app hears of every problem at once; each
 * problem names the canonical field and the app's own column.
 */
export function adaptParts(body: unknown, adapterName: string, facilities: Config['facilities'], now: Date, posyandu?: string, adapters: AdapterRegistry = shippedAdapters()): AdaptedPart[] {
  const adapter = adapters.get(adapterName);
  if (!adapter) throw new Error(`no adapter ${adapterName}`);
  const result = runAdapter(adapter, body, { facilities, ...(posyandu ? { posyandu } : {}) });
  if (result.records.length === 0) return [{ issues: result.issues }];
  return result.records.map(({ issues, ...adapted }) => {
    const kind = adapted.record.kind as string;
    if (issues.length === 0) return { adapted, kind, issues };
    // Nothing of the record could be read (its list is unreadable): the canonical check would only
    // list every field as missing.
    if (adapted.provenance.length === 0) return { adapted, kind, issues };
    const flagged = issues.map((i) => i.path ?? '');
    // A field the adapter could not read is missing from the record: the canonical check would only
    // say so again, for it or for the object that holds it.
    const already = (path = '') => flagged.some((f) => f === path || f.startsWith(`${path}.`) || path.startsWith(`${f}.`));
    const p = prepareRecord(adapted.record, adapterName, facilities, now);
    const more = p.ok ? [] : withSources(p.issues.filter((i) => i.severity === 'error' && !already(i.path)), adapted);
    return { adapted, kind, issues: [...issues, ...more] };
  });
}

/** Names the app's column next to each canonical field an issue is about. */
export function withSources(issues: Issue[], adapted: Adapted): Issue[] {
  const sources = new Map(adapted.provenance.filter((p) => p.source).map((p) => [p.field, p.source as string]));
  return issues.map((i) => {
    const source = i.path ? sources.get(i.path) : undefined;
    return source && !i.source ? { ...i, source } : i;
  });
}
