import type { Bundle } from '@medplum/fhirtypes';
import { PayloadCipher, PayloadUnreadableError } from './payload-cipher.js';
import type { UpstreamStatus } from './states.js';
import { packJson, unpackJson } from './stored-bundle.js';
import { RECORD_FIELDS as F, SEALED_WORDS_PROPERTY, upstreamField, upstreamOfField } from './store/keys.js';

// What of a ledger record is sealed, and how it is read back. A record's hash in Redis keeps in
// clear what the scripts, the status API and the searches work on (ids, place, kind, dates,
// states, counts, upstream resource ids, error codes) and seals what says who the person is:
//   record, bundle, provenance  → sealed bytes (the packed JSON), bound to the record's
//                                 idempotency key (source, recordId) and the field
//   u:{upstream}                → JSON the scripts read, with the upstream's words (lastError's
//                                 message and the OperationOutcome, which may echo a name or a
//                                 NIK) moved into `sealed` (base64), bound to the record id and upstream
// (field and property names: store/keys.ts)

export const SEALED_FIELDS = [F.record, F.bundle, F.provenance] as const;
export type SealedField = (typeof SEALED_FIELDS)[number];

export interface Unreadable {
  keyId: string;
  reason: PayloadUnreadableError['reason'];
}

const fieldPlace = (field: SealedField, source: string, recordId: string) => `${field}\u0000${source}\u0000${recordId}`;
const statusPlace = (id: string, upstream: string) => `${upstreamField(upstream)}\u0000${id}`;

interface Words {
  message?: string;
  outcome?: unknown;
}

/** A record hash read as Buffers (hgetallBuffer), opened: text fields, sealed values, states. */
export interface OpenedRecord {
  text: Record<string, string>;
  record?: unknown;
  provenance?: unknown[];
  upstreams: Record<string, UpstreamStatus>;
  /** set when a sealed value could not be read: the person's data is left out */
  unreadable?: Unreadable;
}

export class StoredPayload {
  constructor(readonly cipher: PayloadCipher) {}

  /** The sealed values of a record's fields, to store under their names. */
  seal(source: string, recordId: string, values: { record: unknown; bundle: Bundle; provenance?: unknown[] }): Partial<Record<SealedField, Buffer>> {
    const out: Partial<Record<SealedField, Buffer>> = {};
    for (const field of SEALED_FIELDS) {
      const value = values[field];
      if (value !== undefined) out[field] = this.sealField(field, source, recordId, packJson(value));
    }
    return out;
  }

  sealField(field: SealedField, source: string, recordId: string, packed: Buffer): Buffer {
    return this.cipher.seal(packed, fieldPlace(field, source, recordId));
  }

  /** The packed bytes of a sealed field; throws PayloadUnreadableError. */
  openField(field: SealedField, source: string, recordId: string, stored: Buffer): Buffer {
    return this.cipher.open(stored, fieldPlace(field, source, recordId));
  }

  openBundle(source: string, recordId: string, stored: Buffer): Bundle {
    return this.unpack<Bundle>(stored, this.openField(F.bundle, source, recordId, stored));
  }

  /** A value that opened but does not unpack was not written by Gerbang: changed, like one failing its check. */
  private unpack<T>(stored: Buffer, packed: Buffer): T {
    try {
      return unpackJson<T>(packed);
    } catch {
      throw new PayloadUnreadableError(PayloadCipher.keyIdOf(stored) ?? 'none', 'tampered');
    }
  }

  /** A state as stored: the upstream's words sealed, the rest in clear for the scripts. */
  sealStatus(id: string, upstream: string, status: UpstreamStatus): string {
    const { outcome, lastError, ...rest } = status;
    const words: Words = { ...(lastError ? { message: lastError.message } : {}), ...(outcome !== undefined ? { outcome } : {}) };
    if (words.message === undefined && words.outcome === undefined) return JSON.stringify(rest);
    const { message: _words, ...errorInClear } = lastError ?? { message: '' };
    return JSON.stringify({
      ...rest,
      ...(lastError ? { lastError: errorInClear } : {}),
      [SEALED_WORDS_PROPERTY]: this.cipher.seal(packJson(words), statusPlace(id, upstream)).toString('base64'),
    });
  }

  /**
   * A stored state with the upstream's words back in it. Words that cannot be read are replaced by
   * the reason (for the operator) and the state is still returned: a missing key must not hide a
   * record's state.
   */
  openStatus(id: string, upstream: string, text: string): { status: UpstreamStatus; unreadable?: Unreadable } {
    const stored = JSON.parse(text) as UpstreamStatus & { [SEALED_WORDS_PROPERTY]?: string };
    const { [SEALED_WORDS_PROPERTY]: sealed, ...status } = stored;
    if (typeof sealed !== 'string') return { status };
    try {
      const words = unpackJson<Words>(this.cipher.open(Buffer.from(sealed, 'base64'), statusPlace(id, upstream)));
      if (status.lastError && words.message !== undefined) status.lastError = { ...status.lastError, message: words.message };
      if (words.outcome !== undefined) status.outcome = words.outcome;
      return { status };
    } catch (err) {
      if (!(err instanceof PayloadUnreadableError)) throw err;
      if (status.lastError) status.lastError = { ...status.lastError, message: err.message };
      return { status, unreadable: { keyId: err.keyId, reason: err.reason } };
    }
  }

  /** Opens a record's hash; what cannot be read is left out and said in `unreadable`. */
  openRecord(raw: Record<string, Buffer>): OpenedRecord {
    const text: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) if (!(SEALED_FIELDS as readonly string[]).includes(k)) text[k] = v.toString('utf8');
    const out: OpenedRecord = { text, upstreams: {} };
    const source = text[F.source] ?? '';
    const recordId = text[F.recordId] ?? '';
    const note = (err: unknown) => {
      if (!(err instanceof PayloadUnreadableError)) throw err;
      out.unreadable ??= { keyId: err.keyId, reason: err.reason };
    };
    for (const field of [F.record, F.provenance] as const) {
      const stored = raw[field];
      if (!stored) continue;
      try {
        const value = this.unpack<unknown>(stored, this.openField(field, source, recordId, stored));
        if (field === F.record) out.record = value;
        else out.provenance = value as unknown[];
      } catch (err) {
        note(err);
      }
    }
    for (const [k, v] of Object.entries(text)) {
      const upstream = upstreamOfField(k);
      if (upstream === undefined) continue;
      const { status, unreadable } = this.openStatus(text[F.id] ?? '', upstream, v);
      out.upstreams[upstream] = status;
      if (unreadable) out.unreadable ??= unreadable;
    }
    // Without the record there are no names to mask the upstream's words with: they are left out.
    const { unreadable } = out;
    if (unreadable) for (const s of Object.values(out.upstreams)) withoutWords(s, unreadable);
    return out;
  }
}

function withoutWords(status: UpstreamStatus, why: Unreadable): void {
  delete status.outcome;
  if (status.lastError) status.lastError = { ...status.lastError, message: new PayloadUnreadableError(why.keyId, why.reason).message };
}

/** Field names and values (hmgetBuffer's answer) as the hash openRecord reads. */
export function hashOf(fields: readonly string[], values: ReadonlyArray<Buffer | null>): Record<string, Buffer> {
  const h: Record<string, Buffer> = {};
  fields.forEach((f, i) => {
    const v = values[i];
    if (v) h[f] = v;
  });
  return h;
}
