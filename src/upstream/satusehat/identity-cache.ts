import { createHash, createHmac } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX } from './key-prefix.js';

/** `faskes-resource`: a Location or sub-Organization the puskesmas created once, by type and identifier. */
export type IdentityKind = 'patient' | 'newborn' | 'practitioner' | 'faskes-resource';

/**
 * SATUSEHAT ids (IHS numbers, nakes ids, Location uuids) by what Gerbang knows of the person or
 * place, shared by every worker through Redis so a posyandu day of records asks once per person.
 *
 * Keys are an HMAC, not a plain hash: a NIK is 16 digits whose region and birth date are easy to
 * guess, so a plain SHA-256 of one could be reversed by trying them all. The HMAC key never goes to
 * Redis. The FHIR base is part of the message, so dev and production ids never mix.
 */
export class IdentityCache {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly secret: string,
    private readonly namespace: string,
    private readonly ttlSeconds: number,
    private readonly keyPrefix = DEFAULT_KEY_PREFIX,
  ) {}

  /** A key secret from the client secrets when none is configured: stable across processes, absent from Redis. */
  static secretFrom(credentials: Record<string, { clientSecret: string }>): string {
    const secrets = Object.keys(credentials)
      .sort()
      .map((org) => `${org}\u0000${credentials[org]?.clientSecret ?? ''}`);
    return createHash('sha256').update(`gerbang-satusehat-identity\u0000${secrets.join('\u0000')}`).digest('hex');
  }

  key(kind: IdentityKind, parts: readonly string[]): string {
    const mac = createHmac('sha256', this.secret).update([this.namespace, kind, ...parts].join('\u0000')).digest('hex').slice(0, 40);
    return `${this.keyPrefix}ss:id:${kind}:${mac}`;
  }

  async get(kind: IdentityKind, parts: readonly string[]): Promise<string | undefined> {
    return (await this.redis.get(this.key(kind, parts))) ?? undefined;
  }

  async set(kind: IdentityKind, parts: readonly string[], id: string): Promise<void> {
    await this.redis.set(this.key(kind, parts), id, 'EX', this.ttlSeconds);
  }
}
