import { hash } from 'node:crypto';
import type { Bundle, BundleEntry, Identifier, Reference, Resource } from '@medplum/fhirtypes';

/**
 * Builds a transaction Bundle whose every write is conditional on a business identifier, so that
 * sending it twice (a replay, a retry after a crash) never creates a second copy upstream.
 *
 * fullUrls are urn:uuid values derived from the record key and the entry key: the same record
 * always gives the same Bundle, which keeps stored bundles and test fixtures stable.
 */
export class TransactionBuilder {
  private readonly entries: BundleEntry[] = [];

  constructor(private readonly recordKey: string) {}

  /** Master data (Patient, Organization, Location): created when missing, never overwritten. */
  createIfMissing<T extends Resource>(entryKey: string, resource: T, match: Identifier): Reference<T> {
    return this.add(entryKey, resource, {
      method: 'POST',
      url: resource.resourceType,
      ifNoneExist: identifierQuery(match),
    });
  }

  /** Clinical data from the record: created, or updated in place when a newer version comes. */
  upsert<T extends Resource & { identifier?: Identifier[] | Identifier }>(entryKey: string, resource: T): Reference<T> {
    // Composition and QuestionnaireResponse carry a single identifier, the others a list
    const identifier = Array.isArray(resource.identifier) ? resource.identifier[0] : resource.identifier;
    if (!identifier) throw new Error(`upsert of ${resource.resourceType} needs a business identifier`);
    return this.add(entryKey, resource, { method: 'PUT', url: `${resource.resourceType}?${identifierQuery(identifier)}` });
  }

  /**
   * The reference an entry has (or will have) in this Bundle, for resources that name each other,
   * e.g. an Encounter and its diagnosis Condition.
   */
  referenceTo<T extends Resource>(entryKey: string): Reference<T> {
    return { reference: this.fullUrlOf(entryKey) };
  }

  build(): Bundle {
    return { resourceType: 'Bundle', type: 'transaction', entry: this.entries };
  }

  private fullUrlOf(entryKey: string): string {
    return `urn:uuid:${stableUuid(`${this.recordKey}\u0000${entryKey}`)}`;
  }

  private add<T extends Resource>(entryKey: string, resource: T, request: BundleEntry['request']): Reference<T> {
    const fullUrl = this.fullUrlOf(entryKey);
    this.entries.push({ fullUrl, resource, request });
    return { reference: fullUrl };
  }
}

function identifierQuery(identifier: Identifier): string {
  return `identifier=${encodeURIComponent(`${identifier.system ?? ''}|${identifier.value ?? ''}`)}`;
}

/** A name-based UUID in the version 5 layout (SHA-1 of the name): valid wherever a urn:uuid is required. */
function stableUuid(name: string): string {
  const h = hash('sha1', name, 'buffer');
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
