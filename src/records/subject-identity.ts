// Whose record it is, and whether an earlier one of the same person matters to it: facts of the
// record alone, read defensively from a body not yet validated (the history is looked up before the
// record is judged). The ledger orders a person's deliveries by this identity and the history store
// keys what it remembers by it, both as a keyed hash, never in clear.

/** The identity a record belongs to: the NIK, or for a newborn the mother's NIK, birth date and birth order. */
export function identityOf(body: unknown): string | undefined {
  const s = (body as { subject?: { nik?: unknown; birthDate?: unknown; birthOrder?: unknown; mother?: { nik?: unknown } } } | null)?.subject;
  if (typeof s?.nik === 'string') return `nik:${s.nik}`;
  if (typeof s?.mother?.nik === 'string' && typeof s.birthDate === 'string') {
    return `newborn:${s.mother.nik}.${s.birthDate}.${typeof s.birthOrder === 'number' ? s.birthOrder : 1}`;
  }
  return undefined;
}

/** What of a person's history a record is judged against: earlier weighings (N/T) or doses received. */
export type HistoryKind = 'weighing' | 'doses';

/** The history a record needs, and whose; undefined when it is judged on its own. */
export function historyNeeded(body: unknown): { what: HistoryKind; identity: string } | undefined {
  const kind = (body as { kind?: unknown } | null)?.kind;
  const what = kind === 'anthropometry' ? 'weighing' : kind === 'immunization' ? 'doses' : undefined;
  const identity = identityOf(body);
  return what && identity ? { what, identity } : undefined;
}

/** Whether a record of this kind, for this identity, is judged against a history at all. */
export function usesHistory(body: unknown): boolean {
  return historyNeeded(body) !== undefined;
}
