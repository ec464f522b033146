import type { Config } from '../config/types.js';
import type { Issue } from '../errors/gerbang-error.js';
import { runAdapter, type Adapted } from '../records/adapters/adapter.js';
import { shippedAdapters, type AdapterRegistry } from '../records/adapters/registry.js';

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
 * An app's native row through its adapter, to canonical records, each with the problems the
 * adapter alone found (a value it could not read names the canonical field and the app's column).
 * Judging the records is prepareItem's.
 */
export function adaptParts(body: unknown, adapterName: string, facilities: Config['facilities'], posyandu?: string, adapters: AdapterRegistry = shippedAdapters()): AdaptedPart[] {
  const adapter = adapters.get(adapterName);
  if (!adapter) throw new Error(`no adapter ${adapterName}`);
  const result = runAdapter(adapter, body, { facilities, ...(posyandu ? { posyandu } : {}) });
  if (result.records.length === 0) return [{ issues: result.issues }];
  return result.records.map(({ issues, ...adapted }) => ({ adapted, kind: adapted.record.kind as string, issues }));
}

/**
 * The canonical check's errors of a record some of whose values the adapter could not read,
 * beyond those: the app hears of every problem at once, but not of a field again that is missing
 * only because it could not be read (nor of the object holding it).
 */
export function besidesUnread(unread: Issue[], judged: Issue[], adapted: Adapted): Issue[] {
  const flagged = unread.map((i) => i.path ?? '');
  const already = (path = '') => flagged.some((f) => f === path || f.startsWith(`${path}.`) || path.startsWith(`${f}.`));
  return withSources(judged.filter((i) => i.severity === 'error' && !already(i.path)), adapted);
}

/** Names the app's column next to each canonical field an issue is about. */
export function withSources(issues: Issue[], adapted: Adapted): Issue[] {
  const sources = new Map(adapted.provenance.filter((p) => p.source).map((p) => [p.field, p.source as string]));
  return issues.map((i) => {
    const source = i.path ? sources.get(i.path) : undefined;
    return source && !i.source ? { ...i, source } : i;
  });
}
