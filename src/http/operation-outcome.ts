import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issueTypeOf } from '../errors/codes.js';
import type { Issue } from '../errors/gerbang-error.js';
import { issueText, type Language } from '../errors/messages.js';

export const ISSUE_SYSTEM = 'https://gerbang.id/fhir/CodeSystem/issue';


/** Issues → an OperationOutcome a kader's app can show: words, and where (FHIRPath and JSON pointer). */
export function toOperationOutcome(issues: Issue[], lang: Language): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => {
      return {
        severity: i.severity,
        code: issueTypeOf(i.key) as OperationOutcomeIssue['code'],
        details: { coding: [{ system: ISSUE_SYSTEM, code: i.key }, ...(i.coding ?? [])], text: issueText(i, lang) },
        ...(i.path ? { expression: [i.path, ...(i.source ? [i.source] : [])], location: [toPointer(i.path)] } : i.source ? { expression: [i.source] } : {}),
      };
    }),
  };
}

/** `subject.mother.nik` → `/subject/mother/nik`; FHIRPaths into a Bundle stay as they are. */
function toPointer(path: string): string {
  if (path.startsWith('Bundle.')) return path;
  return `/${path.replace(/\[(\d+)\]/g, '.$1').split('.').join('/')}`;
}
