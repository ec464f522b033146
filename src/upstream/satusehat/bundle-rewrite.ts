import type { Bundle, BundleEntry, Identifier, Organization, Resource } from '@medplum/fhirtypes';
import { NIK_SYSTEM, SYS_IDS_PREFIX, organizationInSysIds, organizationOfSystem } from './systems.js';

// Gerbang's Bundle is written for any FHIR server: master data as conditional creates, clinical
// data as conditional PUTs by business identifier, everything linked by urn:uuid. SATUSEHAT differs
// (as its official Postman collections show): Patient, Practitioner and the puskesmas Organization are referenced by their
// platform ids and are not entries, and there is no conditional create, only plain POSTs.

/**
 * What SATUSEHAT makes of an entry:
 * - puskesmas, patient, practitioner: the platform owns them; the entry is dropped for a reference;
 * - faskes-master (Location, sub-Organization): the faskes creates them once; found by identifier;
 * - episode: one active EpisodeOfCare per patient and type platform-wide; adopted when there;
 * - clinical: posted with the record.
 */
export type EntryRole = 'puskesmas' | 'patient' | 'practitioner' | 'faskes-master' | 'episode' | 'clinical';

export interface PlannedEntry {
  fullUrl: string;
  resource: Resource;
  role: EntryRole;
}

/**
 * The puskesmas the Bundle is for: its Organization entry names itself with identifier
 * `…/organization/{orgId}` and value `{orgId}` (a sub-organization would carry a local value).
 * Preferred is the one the Encounter names as serviceProvider.
 */
export function puskesmasOf(bundle: Bundle): string | undefined {
  const entries = bundle.entry ?? [];
  const selfNamed = (r: Resource | undefined): string | undefined =>
    r?.resourceType === 'Organization' ? r.identifier?.map(orgOfIdentifier).find((x) => x !== undefined) : undefined;
  const provider = entries.find((e) => e.resource?.resourceType === 'Encounter')?.resource as { serviceProvider?: { reference?: string } } | undefined;
  const providerEntry = entries.find((e) => e.fullUrl !== undefined && e.fullUrl === provider?.serviceProvider?.reference);
  const fromOrganization = selfNamed(providerEntry?.resource) ?? entries.map((e) => selfNamed(e.resource)).find((x) => x !== undefined);
  if (fromOrganization) return fromOrganization;
  // No Organization entry: every sys-ids identifier carries the puskesmas id.
  for (const e of entries) {
    for (const id of identifiersOf(e.resource)) {
      const org = organizationInSysIds(id.system);
      if (org) return org;
    }
  }
  return undefined;
}

function orgOfIdentifier(id: Identifier): string | undefined {
  const org = organizationOfSystem(id.system);
  return org !== undefined && id.value === org ? org : undefined;
}

export function planEntries(bundle: Bundle, orgId: string): PlannedEntry[] {
  return (bundle.entry ?? []).flatMap((e: BundleEntry): PlannedEntry[] => {
    if (!e.resource || !e.fullUrl) return [];
    return [{ fullUrl: e.fullUrl, resource: e.resource, role: roleOf(e.resource, orgId) }];
  });
}

function roleOf(resource: Resource, orgId: string): EntryRole {
  switch (resource.resourceType) {
    case 'Organization':
      return (resource as Organization).identifier?.some((i) => orgOfIdentifier(i) === orgId) ? 'puskesmas' : 'faskes-master';
    case 'Patient':
      return 'patient';
    case 'Practitioner':
      return 'practitioner';
    case 'Location':
      return 'faskes-master';
    case 'EpisodeOfCare':
      return 'episode';
    default:
      return 'clinical';
  }
}

function identifiersOf(resource: Resource | undefined): Identifier[] {
  const ids = (resource as { identifier?: Identifier | Identifier[] } | undefined)?.identifier;
  const list = Array.isArray(ids) ? ids : ids ? [ids] : [];
  return list.filter((i) => i.system && i.value);
}

/**
 * The identifier that names this resource and nothing else: the faskes' sys-ids one. An ANC
 * Encounter also carries its K-visit number, which thousands of Encounters share.
 */
export function businessIdentifier(resource: Resource): Identifier | undefined {
  const ids = identifiersOf(resource);
  return ids.find((i) => i.system!.startsWith(SYS_IDS_PREFIX)) ?? (resource.resourceType === 'Encounter' ? undefined : ids[0]);
}

/**
 * A health worker referenced by NIK (a logical reference: `{identifier: {system: nik, value}}`)
 * rather than by an entry. A kader is only ever a display text, so never matches.
 */
export function practitionerNiksIn(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) practitionerNiksIn(v, out);
  else if (value && typeof value === 'object') {
    const nik = logicalPractitionerNik(value as Record<string, unknown>);
    if (nik) out.add(nik);
    else for (const v of Object.values(value)) practitionerNiksIn(v, out);
  }
  return out;
}

function logicalPractitionerNik(o: Record<string, unknown>): string | undefined {
  if (typeof o.reference === 'string' || Array.isArray(o.identifier) || !o.identifier || typeof o.identifier !== 'object') return undefined;
  if (o.type !== undefined && o.type !== 'Practitioner') return undefined;
  const id = o.identifier as Identifier;
  return id.system === NIK_SYSTEM && id.value ? id.value : undefined;
}

/**
 * A copy of the resource with references to dropped or already-written entries pointing at their
 * SATUSEHAT ids, and NIK-named health workers replaced by their Practitioner reference (the NIK
 * itself does not travel).
 */
export function rewriteReferences<T>(value: T, refs: ReadonlyMap<string, string>, practitioners: ReadonlyMap<string, string>): T {
  if (Array.isArray(value)) return value.map((v) => rewriteReferences(v, refs, practitioners)) as T;
  if (!value || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const nik = logicalPractitionerNik(o);
  const practitioner = nik ? practitioners.get(nik) : undefined;
  if (practitioner) return { reference: `Practitioner/${practitioner}`, ...(typeof o.display === 'string' ? { display: o.display } : {}) } as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    out[k] = k === 'reference' && typeof v === 'string' ? (refs.get(v) ?? v) : rewriteReferences(v, refs, practitioners);
  }
  return out as T;
}

/** As SATUSEHAT takes an entry: `{fullUrl: urn:uuid, resource, request: {method: POST, url: Type}}`, nothing conditional. */
export function transactionOf(entries: ReadonlyArray<{ fullUrl: string; resource: Resource }>): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map((e) => ({ fullUrl: e.fullUrl, resource: e.resource, request: { method: 'POST', url: e.resource.resourceType } })),
  };
}
