import { loadConfig } from '../../../src/config/load.js';
import type { Issue } from '../../../src/errors/gerbang-error.js';
import { prepareItem } from '../../../src/ingest/prepare-item.js';
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

export async function judge(app: string, row: unknown, opts: { posyandu?: string; now?: Date } = {}): Promise<Judged[]> {
  const now = opts.now ?? new Date('2025-11-06T00:00:00Z');
  // The gateway's own way in (prepareItem), as POST /v1/records?source= judges a row, without history.
  const parts = await prepareItem(row, app, { facilities, now, posyandu: opts.posyandu ?? WIB });
  return parts.map((p) => {
    const issues = p.result.ok ? p.result.prepared.warnings : p.result.issues;
    return { kind: p.kind, record: p.adapted?.record ?? {}, provenance: p.adapted?.provenance ?? [], errors: show(issues, 'error'), warnings: show(issues, 'warning') };
  });
}

/** The one record of a row that yields one. */
export async function judgeOne(app: string, row: unknown, opts: { posyandu?: string; now?: Date } = {}): Promise<Judged> {
  const out = await judge(app, row, opts);
  if (out.length !== 1) throw new Error(`${app}: expected one record, got ${out.length}`);
  return out[0] as Judged;
}

export const rulesOf = (j: Judged, field: string) => j.provenance.find((p) => p.field === field)?.rules;
