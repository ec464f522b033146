import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { PayloadKeysConfig } from '../config/types.js';

// The personal part of what the ledger stores (the record, its Bundle, adapter provenance, an
// upstream's words) is sealed with AES-256-GCM before it reaches Redis, so a copy of the store or
// of its append-only file says nothing about a child without the key. Each sealed value names the
// key it was sealed with, so keys can be rotated: new values use the current key, old ones are
// read with theirs until `gerbang keys rotate-payloads` has sealed them again.
//
// Layout: MAGIC (2 bytes) | key id length (1) | key id (ASCII) | IV (12) | ciphertext | tag (16).
// The associated data is the header and the value's place (record and field), so a value moved to
// another record or field fails its check like a changed byte does.

const MAGIC = Buffer.from([0x00, 0xe1]);
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const KEY_HEX = /^[0-9a-fA-F]{64}$/;

/** security.payloadKeys: keys by id (64 hex characters each), and the id new values are sealed with. */
export type PayloadKeyRing = PayloadKeysConfig;

/** Why a stored value cannot be read: its key is not configured, or it was changed (or is not ours). */
export class PayloadUnreadableError extends Error {
  override name = 'PayloadUnreadableError';
  constructor(
    readonly keyId: string,
    readonly reason: 'key-missing' | 'tampered',
  ) {
    super(
      reason === 'key-missing'
        ? `stored payload sealed with payload key "${keyId}", which is not in security.payloadKeys: add it back (docs/at-rest.md)`
        : `stored payload sealed with payload key "${keyId}" failed its integrity check: it was changed after it was written, or the key configured under that id is not the one it was sealed with`,
    );
  }
}

/** The problems of a key ring, in words for the configuration's error list; [] when it is usable. */
function keyRingProblems(ring: PayloadKeyRing): string[] {
  const problems: string[] = [];
  for (const [id, key] of Object.entries(ring.keys)) {
    if (!KEY_ID.test(id)) problems.push(`/security/payloadKeys/keys/${id}: a key id is 1 to 64 letters, digits, ".", "_" or "-"`);
    if (!KEY_HEX.test(key)) problems.push(`/security/payloadKeys/keys/${id}: must be 64 hexadecimal characters (32 bytes; openssl rand -hex 32)`);
  }
  if (!(ring.current in ring.keys)) problems.push(`/security/payloadKeys/current: "${ring.current}" is not one of /security/payloadKeys/keys`);
  return problems;
}

export class PayloadCipher {
  private readonly keys = new Map<string, Buffer>();

  constructor(ring: PayloadKeyRing) {
    const problems = keyRingProblems(ring);
    if (problems.length > 0) throw new Error(`payload keys: ${problems.join('; ')}`);
    for (const [id, hex] of Object.entries(ring.keys)) this.keys.set(id, Buffer.from(hex, 'hex'));
    this.currentKeyId = ring.current;
  }

  readonly currentKeyId: string;

  /** Whether a stored value is sealed (rather than written in clear by Gerbang 0.4 or earlier). */
  static isSealed(stored: Buffer): boolean {
    return stored.length >= MAGIC.length + 1 && stored[0] === MAGIC[0] && stored[1] === MAGIC[1];
  }

  /** The id of the key a sealed value was sealed with; undefined for a value in clear. */
  static keyIdOf(stored: Buffer): string | undefined {
    if (!PayloadCipher.isSealed(stored)) return undefined;
    const n = stored[MAGIC.length]!;
    return stored.subarray(MAGIC.length + 1, MAGIC.length + 1 + n).toString('latin1');
  }

  /** Seals `plain` with the current key; `place` names where it is stored (checked on open). */
  seal(plain: Buffer, place: string): Buffer {
    const id = Buffer.from(this.currentKeyId, 'latin1');
    const header = Buffer.concat([MAGIC, Buffer.from([id.length]), id]);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.concat([header, Buffer.from(place, 'utf8')]));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([header, iv, body, cipher.getAuthTag()]);
  }

  /**
   * The plain value of what `seal` wrote for `place`. A value in clear (written before payloads were
   * sealed) is returned as it is. Throws PayloadUnreadableError for a key not configured or a value
   * that fails its check.
   */
  open(stored: Buffer, place: string): Buffer {
    if (!PayloadCipher.isSealed(stored)) return stored;
    const n = stored[MAGIC.length]!;
    const headerEnd = MAGIC.length + 1 + n;
    const keyId = stored.subarray(MAGIC.length + 1, headerEnd).toString('latin1');
    const key = this.keys.get(keyId);
    if (!key) throw new PayloadUnreadableError(keyId, 'key-missing');
    if (stored.length < headerEnd + IV_BYTES + TAG_BYTES) throw new PayloadUnreadableError(keyId, 'tampered');
    const iv = stored.subarray(headerEnd, headerEnd + IV_BYTES);
    const tag = stored.subarray(stored.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.concat([stored.subarray(0, headerEnd), Buffer.from(place, 'utf8')]));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(stored.subarray(headerEnd + IV_BYTES, stored.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadUnreadableError(keyId, 'tampered');
    }
  }

  /** Whether a stored value needs sealing again: in clear, or sealed with a key that is not the current one. */
  needsRotation(stored: Buffer): boolean {
    return PayloadCipher.keyIdOf(stored) !== this.currentKeyId;
  }
}
