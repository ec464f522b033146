import type { Issue } from '../errors/gerbang-error.js';
import { peopleOf } from '../log/identity-mask.js';
import type { StoredRecord } from './ledger.js';
import type { OpenedRecord } from './stored-payload.js';
import { RECORD_FIELDS as F } from './store/keys.js';

// Both ledgers answer get() through this: the Redis ledger's hash holds these fields, and the
// PostgreSQL ledger reads its rows into them, so a record reads the same from either.

/** A stored record, opened (its sealed values read), as the API shows it. */
export function storedRecord(opened: OpenedRecord): StoredRecord {
  const h = opened.text;
  const text = (f: string) => h[f] ?? '';
  const json = <T>(f: string, absent: T): T => (h[f] ? (JSON.parse(h[f]) as T) : absent);
  return {
    id: text(F.id),
    source: text(F.source),
    recordId: text(F.recordId),
    kind: text(F.kind),
    posyandu: text(F.posyandu),
    puskesmas: text(F.puskesmas),
    regency: text(F.regency),
    version: Number(h[F.version]),
    receivedAt: text(F.receivedAt),
    updatedAt: text(F.updatedAt),
    warnings: json<Issue[]>(F.warnings, []),
    indicators: json<Record<string, unknown>>(F.indicators, {}),
    historyFrom: json<string[]>(F.historyFrom, []),
    ...(opened.provenance ? { provenance: opened.provenance } : {}),
    people: peopleOf(opened.record),
    ...(h[F.payloadDroppedAt] ? { payloadDroppedAt: h[F.payloadDroppedAt] } : {}),
    ...(opened.unreadable ? { payloadUnreadable: opened.unreadable } : {}),
    upstreams: opened.upstreams,
  };
}
