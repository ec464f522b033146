import { loadConfig } from '../../../src/config/load.js';
import type { Issue } from '../../../src/errors/gerbang-error.js';
import { adaptParts, withSources } from '../../../src/ingest/adapt-record.js';
import { prepareRecord } from '../../../src/ingest/prepare-record.js';
import type { Provenance } from '../../../src/records/adapters/adapter.js';

// What an app hears for one of its rows, record by record, as the gateway judges it: the adapter's
// reading, then the canonical checks. Each problem is written `key@field<column` so a test can name
// the field and the app's column it expects.

const { facilities } = loadConfig({ GERBANG_DATA_DIR: '/tmp/gerbang-unit' });

/** A WIB posyandu and a WITA one of mappings/demo-facilities.json. */
export const WIB = '3201010001-01';
export const WITA = '5271010002-01';

export interface Judged {
  kind?: string;
  record: Record<string, unknown>;
  provenance: Provenance[];
  errors: string[];
  warnings: string[];
}

const show = (issues: Issue[], severity: Issue['severity']) =>
  issues.filter((i) => i.severity === severity).map((i) => `${i.key}@${i.path ?? ''}${i.source ? `<${i.source}` : ''}`);

export function judge(app: string, row: unknown, opts: { posyandu?: string; now?: Date } = {}): Judged[] {
  const now = opts.now ?? new Date('2025-11-06T00:00:00Z');
  const parts = adaptParts(row, app, facilities, now, opts.posyandu ?? WIB);
  return parts.map((p) => {
    const record = p.adapted?.record ?? {};
    const provenance = p.adapted?.provenance ?? [];
    if (p.issues.length > 0 || !p.adapted) {
      return { kind: p.kind, record, provenance, errors: show(p.issues, 'error'), warnings: show(p.issues, 'warning') };
    }
    const prepared = prepareRecord(record, app, facilities, now);
    const issues = withSources(prepared.ok ? prepared.prepared.warnings : prepared.issues, p.adapted);
    return { kind: p.kind, record, provenance, errors: show(issues, 'error'), warnings: show(issues, 'warning') };
  });
}

/** The one record of a row that yields one. */
export function judgeOne(app: string, row: unknown, opts: { posyandu?: string; now?: Date } = {}): Judged {
  const out = judge(app, row, opts);
  if (out.length !== 1) throw new Error(`${app}: expected one record, got ${out.length}`);
  return out[0] as Judged;
}

export const rulesOf = (j: Judged, field: string) => j.provenance.find((p) => p.field === field)?.rules;
