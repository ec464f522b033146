import type { ScopeCheck } from '../config/scope.js';
import type { Issue } from '../errors/gerbang-error.js';
import { usesHistory } from '../records/subject-identity.js';
import type { SubjectHistoryStore } from '../sync/subject-history.js';
import { historyWithin, type SubjectHistory } from '../indicators/subject-history.js';

/**
 * The history a dry run may judge a record against, for a caller with this scope. What Gerbang
 * remembers of a person (each dose with its date, the last weight) is as personal as the records
 * it came from, so a key sees only what was recorded in its own scope:
 * - a record of a kind judged against history (a weighing, a dose) at a posyandu outside the scope: no history at all, and a warning that says so (the
 *   decision rests on the request alone, so the warning tells nothing about the person);
 * - in scope: only the entries recorded at posyandu of the scope. Entries from elsewhere are left
 *   out without a word: a warning there would itself say that the person is known elsewhere.
 */
export async function historyInScope(
  store: Pick<SubjectHistoryStore, 'forRecord'>,
  body: unknown,
  scope: ScopeCheck,
): Promise<{ history?: SubjectHistory; notices: Issue[] }> {
  if (!usesHistory(body)) return { notices: [] };
  const posyandu = (body as { posyandu?: unknown } | null)?.posyandu;
  if (!scope.unlimited && !(typeof posyandu === 'string' && scope.coversPosyandu(posyandu))) {
    return { notices: [{ key: 'map.history-not-consulted', severity: 'warning', path: 'posyandu', params: { posyandu: typeof posyandu === 'string' ? posyandu : '' } }] };
  }
  const stored = await store.forRecord(body).catch(() => undefined);
  if (!stored) return { notices: [] };
  return { history: scope.unlimited ? stored : historyWithin(stored, (p) => scope.coversPosyandu(p)), notices: [] };
}
