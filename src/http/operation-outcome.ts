import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { errorCodes, type ErrorCode } from '../errors/codes.js';
import type { Issue } from '../errors/gerbang-error.js';
import { issueText, type Language } from '../errors/messages.js';

export const ISSUE_SYSTEM = 'https://gerbang.id/fhir/CodeSystem/issue';

// FHIR issue-type for each family of issue keys (http://hl7.org/fhir/R4/valueset-issue-type.html).
const issueTypes: Array<[RegExp, OperationOutcomeIssue['code']]> = [
  [/^field\.required$|^field\.depends$|^subject\.needs-identity$|^measurement\.none$/, 'required'],
  [/^field\.unknown$|^field\.type$|^record\.not-object$/, 'structure'],
  [/^kind\.unknown$/, 'code-invalid'],
  [/^posyandu\.unknown$/, 'not-found'],
  [/^nik\.disagrees/, 'business-rule'],
  [/^date\.|^value\.|^nik\.|^field\./, 'value'],
  [/^mapping\./, 'invariant'],
  [/^auth\.too-many-failures$/, 'throttled'],
  [/^record\.id-out-of-scope$/, 'forbidden'],
  [/^map\.history-not-consulted$/, 'informational'],
];

function issueType(key: string): OperationOutcomeIssue['code'] {
  if (key in errorCodes) return errorCodes[key as ErrorCode].issueType as OperationOutcomeIssue['code'];
  return issueTypes.find(([re]) => re.test(key))?.[1] ?? 'invalid';
}

/** Issues → an OperationOutcome a kader's app can show: words, and where (FHIRPath and JSON pointer). */
export function toOperationOutcome(issues: Issue[], lang: Language): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => {
      return {
        severity: i.severity,
        code: issueType(i.key),
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
