import type { Bundle } from '@medplum/fhirtypes';
import type { Config } from '../config/types.js';
import type { Issue } from '../errors/gerbang-error.js';
import { mapRecord, type Indicators } from '../fhir/map-record.js';
import { checkBundle, type ProfileViolation } from '../fhir/profile-check.js';
import { checkRecord } from '../records/checks.js';
import type { SubjectHistory } from '../indicators/subject-history.js';
import type { CanonicalRecord } from '../records/schemas/index.js';
import { validateShape } from '../records/validate.js';
import { historyPlaces } from './history-shown.js';

export interface PreparedRecord {
  record: CanonicalRecord;
  bundle: Bundle;
  indicators: Indicators;
  warnings: Issue[];
  /** where the history behind the history-derived indicators was recorded (history-shown.ts) */
  historyFrom: string[];
}

/** A refusal judged against history says where that history was recorded too (history-shown.ts). */
export type Preparation = { ok: true; prepared: PreparedRecord } | { ok: false; issues: Issue[]; historyFrom?: string[] };

/**
 * Everything that can be judged while the app is still connected, in order: the shape (JSON
 * Schema), the facts (registry, NIK, dates, plausible values), the mapping to FHIR, and the mapped
 * resources against our profiles. Every entry reaches it through prepareItem (prepare-item.ts).
 */
export function prepareRecord(body: unknown, source: string, facilities: Config['facilities'], now: Date, history?: SubjectHistory): Preparation {
  const shape = validateShape(body);
  if (!shape.ok) return { ok: false, issues: [...shape.issues, ...factsBeyondShape(body, shape.issues, facilities, now)] };

  const recordKey = `${source}.${shape.record.recordId}`;
  const issues = checkRecord(shape.record, facilities, now, history, recordKey);
  if (issues.some((i) => i.severity === 'error')) return { ok: false, issues, historyFrom: historyPlaces(shape.record, history, recordKey) };

  const { bundle, indicators } = mapRecord(shape.record, source, facilities, history, now);

  const violations = checkBundle(bundle);
  if (violations.length > 0) return { ok: false, issues: [...issues, ...violations.map(violationIssue)] };
  return { ok: true, prepared: { record: shape.record, bundle, indicators, warnings: issues, historyFrom: historyPlaces(shape.record, history, recordKey) } };
}

export const SATUSEHAT_RULE_SYSTEM = 'https://gerbang.id/fhir/CodeSystem/satusehat-rule';

/** A profile violation as a client reads it; a SATUSEHAT rule is named by its number and the platform's words. */
export function violationIssue(v: ProfileViolation): Issue {
  if (v.ruleNumber === undefined) return { key: 'mapping.profile', severity: 'error', path: v.expression, params: { profile: v.profile, rule: v.rule } };
  return {
    key: 'mapping.satusehat-rule',
    severity: 'error',
    path: v.expression,
    params: { profile: v.profile, rule: v.rule, ruleNumber: String(v.ruleNumber), platformMessage: v.message },
    coding: [{ system: SATUSEHAT_RULE_SYSTEM, code: String(v.ruleNumber) }],
  };
}

/**
 * When a record's shape is wrong, the facts are still judged on what is right, so that an app
 * hears of every problem at once: the fields with a shape problem are set aside and the rest is
 * checked again.
 */
function factsBeyondShape(body: unknown, shapeIssues: Issue[], facilities: Config['facilities'], now: Date): Issue[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [];
  const rest = structuredClone(body) as Record<string, unknown>;
  for (const issue of shapeIssues) if (issue.path) removePath(rest, issue.path);
  const again = validateShape(rest);
  if (!again.ok) return [];
  const flagged = shapeIssues.map((i) => i.path ?? '');
  return checkRecord(again.record, facilities, now).filter((i) => !flagged.some((f) => i.path === f || (i.path ?? '').startsWith(`${f}.`)));
}

function removePath(target: Record<string, unknown>, path: string): void {
  const steps = path.split('.');
  let node: unknown = target;
  for (const step of steps.slice(0, -1)) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[step] : undefined;
  if (node && typeof node === 'object') delete (node as Record<string, unknown>)[steps.at(-1) ?? ''];
}
