import type { Config } from '../config/types.js';
import type { Adapted } from '../records/adapters/adapter.js';
import type { AdapterRegistry } from '../records/adapters/registry.js';
import type { SubjectHistory } from '../indicators/subject-history.js';
import type { Issue } from '../errors/gerbang-error.js';
import { adaptParts, besidesUnread, isAdapter, withSources } from './adapt-record.js';
import { prepareRecord, type Preparation } from './prepare-record.js';

/** One canonical record of what an app sent, judged. */
export interface PreparedPart {
  /** the record's kind, when it has one */
  kind?: string;
  /** the canonical input: what the app sent, or what its adapter read from the row */
  body: unknown;
  /** how the adapter read it (absent for a canonical record) */
  adapted?: Adapted;
  result: Preparation;
}

export interface PrepareContext {
  facilities: Config['facilities'];
  now: Date;
  /** the adapters the process serves; absent: the shipped ones */
  adapters?: AdapterRegistry;
  /** `?posyandu=`, for adapters of apps whose rows do not name it */
  posyandu?: string;
  /** what Gerbang remembers of a record's subject; absent: each record is judged on its own */
  history?: (record: unknown) => Promise<SubjectHistory | undefined>;
}

/**
 * The one way an item an app sent is judged, for a single record, `$batch`, the `$map` dry run and
 * `gerbang adapter test` alike: a canonical record, or (with `source` naming an adapter) the app's
 * own row, which may yield several records. Each record is judged on its own; nothing is stored.
 */
export async function prepareItem(body: unknown, source: string, ctx: PrepareContext): Promise<PreparedPart[]> {
  if (!isAdapter(source, ctx.adapters)) return [{ ...kindOf(body), body, result: prepareRecord(body, source, ctx.facilities, ctx.now, await ctx.history?.(body)) }];
  const parts: PreparedPart[] = [];
  for (const part of adaptParts(body, source, ctx.facilities, ctx.posyandu, ctx.adapters)) {
    const { adapted } = part;
    const kind = part.kind === undefined ? {} : { kind: part.kind };
    if (!adapted) {
      parts.push({ ...kind, body: undefined, result: { ok: false, issues: part.issues } });
      continue;
    }
    if (part.issues.length > 0) {
      // Refused for what the adapter could not read; the rest is still checked, without history,
      // unless nothing of the record could be read (the check would only list every field).
      const rest = adapted.provenance.length === 0 ? [] : judgedIssues(prepareRecord(adapted.record, source, ctx.facilities, ctx.now));
      parts.push({ ...kind, body: adapted.record, adapted, result: { ok: false, issues: [...part.issues, ...besidesUnread(part.issues, rest, adapted)] } });
      continue;
    }
    const result = prepareRecord(adapted.record, source, ctx.facilities, ctx.now, await ctx.history?.(adapted.record));
    parts.push({ ...kind, body: adapted.record, adapted, result: withColumns(result, adapted) });
  }
  return parts;
}

function judgedIssues(p: Preparation): Issue[] {
  return p.ok ? [] : p.issues;
}

/** Each problem and warning names the app's column beside the canonical field. */
function withColumns(p: Preparation, adapted: Adapted): Preparation {
  return p.ok ? { ok: true, prepared: { ...p.prepared, warnings: withSources(p.prepared.warnings, adapted) } } : { ...p, issues: withSources(p.issues, adapted) };
}

function kindOf(body: unknown): { kind?: string } {
  const kind = (body as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? { kind } : {};
}
