import type { Bundle, Resource } from '@medplum/fhirtypes';
import { readMapping } from '../tables/read-table.js';
import type { PushOutcome } from './upstream.js';
import type { WrittenResource } from './upstream.js';

// A new version of a record corrects what its earlier version wrote upstream. The resources both
// versions have are updated in place (same ids); the ones the new version no longer has are not
// deleted but withdrawn as FHIR says a record made in error is: marked entered-in-error, so that
// whoever read them can see they no longer stand. How each type is marked is data
// (mappings/entered-in-error.json); the types not listed there are shared and never withdrawn.

interface Withdrawal {
  set: Record<string, unknown>;
  remove?: string[];
}

/** How each resource type is withdrawn (mappings/entered-in-error.json). */
export interface Withdrawals {
  withdraw: Record<string, Withdrawal>;
}

export function readWithdrawals(): Withdrawals {
  return readMapping<Withdrawals>('entered-in-error.json', (d, fail) => {
    if (!d.withdraw || typeof d.withdraw !== 'object') fail('withdraw', 'is required');
    for (const [type, w] of Object.entries(d.withdraw)) {
      if (!/^[A-Z][A-Za-z]+$/.test(type)) fail(`withdraw.${type}`, 'must be a FHIR resource type');
      if (!w.set || typeof w.set !== 'object' || Object.keys(w.set).length === 0) fail(`withdraw.${type}.set`, 'must set at least one element');
      if (w.remove !== undefined && (!Array.isArray(w.remove) || w.remove.some((x) => typeof x !== 'string'))) fail(`withdraw.${type}.remove`, 'must be a list of element names');
    }
  });
}

/** What a correction withdraws, by the table it is given. */
export class Corrections {
  constructor(private readonly table: Withdrawals) {}

  /** The resource as the upstream holds it, marked entered-in-error; undefined for a type a correction never withdraws. */
  withdrawn<T extends Resource>(resource: T): T | undefined {
    return withdrawnBy(this.table, resource);
  }

  /**
   * Resources an earlier version wrote that this Bundle no longer has, of a type that is withdrawn,
   * and that this push did not write itself (`written`): an entry whose fullUrl changed (a mapping
   * that renamed its entry keys) but that was found again by identifier is the same resource, and
   * is not withdrawn. Those with `retracted` were withdrawn by an earlier correction already; they
   * stay on the list so the record keeps saying what the upstream holds for it.
   */
  droppedBy(bundle: Bundle, held: readonly WrittenResource[], written: readonly WrittenResource[]): WrittenResource[] {
    const kept = new Set((bundle.entry ?? []).map((e) => e.fullUrl));
    const ids = new Set(written.map((w) => `${w.resourceType}/${w.id}`));
    return held.filter((h) => !kept.has(h.fullUrl) && !ids.has(`${h.resourceType}/${h.id}`) && this.table.withdraw[h.resourceType] !== undefined);
  }
}

function withdrawnBy<T extends Resource>(table: Withdrawals, resource: T): T | undefined {
  const w = table.withdraw[resource.resourceType];
  if (!w) return undefined;
  const copy = structuredClone(resource) as Record<string, unknown>;
  for (const k of w.remove ?? []) delete copy[k];
  Object.assign(copy, structuredClone(w.set));
  // The server keeps its own version bookkeeping; sending it back could only conflict.
  const meta = copy.meta as Record<string, unknown> | undefined;
  if (meta) {
    delete meta.versionId;
    delete meta.lastUpdated;
    if (Object.keys(meta).length === 0) delete copy.meta;
  }
  return copy as T;
}

/** What the upstream holds for entries of this Bundle (same fullUrl, same type), by fullUrl. */
export function heldEntries(bundle: Bundle, held: readonly WrittenResource[]): Map<string, WrittenResource> {
  const types = new Map((bundle.entry ?? []).map((e) => [e.fullUrl, e.resource?.resourceType]));
  return new Map(held.filter((h) => types.get(h.fullUrl) === h.resourceType).map((h) => [h.fullUrl, h]));
}

/** What a push ends with when a newer version of its record was accepted before it overwrote anything (PushContext.superseded). */
export const SUPERSEDED: PushOutcome = {
  kind: 'not-sent',
  code: 'delivery.superseded',
  message: 'a newer version of the record was accepted; that version is sent instead',
  transient: true,
};
