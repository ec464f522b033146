import type { Config } from '../config/types.js';
import { GerbangError, type Issue } from '../errors/gerbang-error.js';
import { adapters, runAdapter, type Adapted } from '../records/adapters/adapter.js';
import { prepareRecord } from './prepare-record.js';

export function isAdapter(source: string): boolean {
  return adapters.has(source);
}

/**
 * An app's native record through its adapter, to canonical records. When some values cannot be
 * read, the rest is still checked, so the app hears of every problem at once; each problem names
 * the canonical field and the app's own column.
 */
export function adaptRecord(body: unknown, adapterName: string, facilities: Config['facilities'], now: Date, posyandu?: string): Adapted[] {
  const adapter = adapters.get(adapterName);
  if (!adapter) throw new Error(`no adapter ${adapterName}`);
  const result = runAdapter(adapter, body, { facilities, ...(posyandu ? { posyandu } : {}) });
  if (result.issues.length === 0) return result.records;
  const flagged = result.issues.map((i) => i.path ?? '');
  // A field the adapter could not read is missing from the record: the canonical check would only
  // say so again, for it or for the object that holds it.
  const already = (path = '') => flagged.some((f) => f === path || f.startsWith(`${path}.`) || path.startsWith(`${f}.`));
  const more = result.records.flatMap((a) => {
    const p = prepareRecord(a.record, adapterName, facilities, now);
    const issues = p.ok ? [] : p.issues;
    return withSources(issues.filter((i) => i.severity === 'error' && !already(i.path)), a);
  });
  throw new GerbangError('record.invalid', [...result.issues, ...more]);
}

/** Names the app's column next to each canonical field an issue is about. */
export function withSources(issues: Issue[], adapted: Adapted): Issue[] {
  const sources = new Map(adapted.provenance.filter((p) => p.source).map((p) => [p.field, p.source as string]));
  return issues.map((i) => {
    const source = i.path ? sources.get(i.path) : undefined;
    return source && !i.source ? { ...i, source } : i;
  });
}
