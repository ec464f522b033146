import { maskIdentity, peopleOf } from '../log/identity-mask.js';
import { reasonOf, type FailureItem, type SentRecord } from './record-search.js';
import type { UpstreamStatus } from './states.js';
import type { OpenedRecord } from './stored-payload.js';
import { RECORD_FIELDS as F } from './store/keys.js';

// The items of record-search.ts's lists made from an opened record, the same for every ledger
// (store/redis-search.ts, pg/pg-reads.ts), so that both mask and shape them alike.

/** A failed or waiting record at one upstream as the failures list shows it (undefined: not a failure there). */
export function failureItemOf(opened: OpenedRecord, upstream: string, showIdentity: boolean): FailureItem | undefined {
  const { [F.id]: id, [F.source]: source, [F.recordId]: recordId, [F.kind]: kind, [F.regency]: regency, [F.puskesmas]: puskesmas, [F.posyandu]: posyandu, [F.receivedAt]: receivedAt } = opened.text;
  const status = opened.upstreams[upstream];
  if (!id || !status) return undefined;
  if (status.state !== 'failed' && status.state !== 'waiting-identity') return undefined;
  const payload = opened.record as { subject?: { name?: string; nik?: string; birthDate?: string } } | undefined;
  const subject = payload?.subject;
  const reason = reasonOf(status);
  const people = peopleOf(payload);
  const hide = <T>(x: T): T => (showIdentity ? x : maskIdentity(x, people));
  return {
    id,
    source: source ?? '',
    recordId: recordId ?? '',
    kind: kind ?? '',
    regency: regency ?? '',
    puskesmas: puskesmas ?? '',
    posyandu: posyandu ?? '',
    upstream,
    state: status.state,
    receivedAt: receivedAt ?? '',
    attempts: status.attempts,
    reason: hide(reason),
    ...(status.lastError ? { lastError: hide(status.lastError) } : {}),
    ...(status.outcome !== undefined ? { outcome: hide(status.outcome) } : {}),
    ...(showIdentity && subject ? { subject: { name: subject.name, nik: subject.nik, birthDate: subject.birthDate } } : {}),
    ...(opened.unreadable ? { payloadUnreadable: opened.unreadable } : {}),
  };
}

/** A record one posyandu sent, with its states; the upstream's words masked without `showIdentity`. */
export function sentRecordOf(opened: OpenedRecord, showIdentity: boolean): SentRecord {
  const people = peopleOf(opened.record);
  const words = (e: UpstreamStatus['lastError']) => (showIdentity ? e : maskIdentity(e, people));
  const text = opened.text;
  return {
    id: text[F.id] ?? '',
    source: text[F.source] ?? '',
    recordId: text[F.recordId] ?? '',
    kind: text[F.kind] ?? '',
    posyandu: text[F.posyandu] ?? '',
    version: Number(text[F.version]),
    receivedAt: text[F.receivedAt] ?? '',
    upstreams: Object.fromEntries(Object.entries(opened.upstreams).map(([u, s]) => [u, { state: s.state, attempts: s.attempts, ...(s.lastError ? { lastError: words(s.lastError) } : {}) }])),
  };
}
