// SATUSEHAT's rule 20002 "Found duplicate resource" arrives as an OperationOutcome issue with code
// `duplicate`, or in some deployments as a non-FHIR list `[{ruleNumber: "20002", message}]`. The
// HTTP status is not documented, so the body decides.

export function isDuplicateAnswer(body: unknown): boolean {
  if (Array.isArray(body)) return body.some((x) => mentionsDuplicate(x));
  if (!body || typeof body !== 'object') return typeof body === 'string' && /RuleNumber:\s*20002/i.test(body);
  const issues = (body as { issue?: unknown }).issue;
  return Array.isArray(issues) && issues.some((i) => mentionsDuplicate(i));
}

function mentionsDuplicate(x: unknown): boolean {
  if (!x || typeof x !== 'object') return false;
  const o = x as { code?: unknown; ruleNumber?: unknown; details?: { text?: unknown }; diagnostics?: unknown; message?: unknown };
  if (o.code === 'duplicate' || String(o.ruleNumber ?? '') === '20002') return true;
  const text = [o.details?.text, o.diagnostics, o.message].filter((t): t is string => typeof t === 'string').join(' ');
  return /RuleNumber:\s*20002|found duplicate/i.test(text);
}
