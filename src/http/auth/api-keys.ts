import { createHash, randomBytes } from 'node:crypto';

// An API key is 32 random bytes; only its SHA-256 is stored in the configuration. A plain hash is
// enough (no salt, no slow KDF): the key is random and long, so there is nothing to guess.

const PREFIX = 'gbk_';

export function newApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** The key from `Authorization: Bearer <key>`; undefined when the header is absent or another scheme. */
export function bearerKey(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
