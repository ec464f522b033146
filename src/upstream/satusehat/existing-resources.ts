import type { EpisodeOfCare, Resource } from '@medplum/fhirtypes';
import type { SatusehatApi } from './api-client.js';
import { businessIdentifier } from './bundle-rewrite.js';

// SATUSEHAT has no conditional create: sending a resource whose identifier it already
// holds is refused as a duplicate (rule 20002), and sending it under a new identifier would make a
// second copy. So whenever a resource may already be there, Gerbang asks first and adopts its id.

/** The id SATUSEHAT holds for this resource's business identifier, if any. */
export async function findByIdentifier(api: SatusehatApi, orgId: string, resource: Resource): Promise<string | undefined> {
  const identifier = businessIdentifier(resource);
  if (!identifier) return undefined;
  const found = await api.search(orgId, resource.resourceType, { identifier: `${identifier.system}|${identifier.value}` });
  return found[0]?.id;
}

// When a record's resources are there they are all looked up (a dozen for an ANC visit), and one
// search by identifier takes the platform a few hundred ms: four at a time keeps that close to a
// first push in time without one push taking more than its share of the connections.
const LOOKUPS_AT_ONCE = 4;

/** findByIdentifier for each resource, a few at a time; the ids in the same order. */
export async function findAllByIdentifier(api: SatusehatApi, orgId: string, resources: Resource[]): Promise<Array<string | undefined>> {
  const ids: Array<string | undefined> = new Array(resources.length);
  let next = 0;
  const lane = async () => {
    while (next < resources.length) {
      const i = next++;
      ids[i] = await findByIdentifier(api, orgId, resources[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUPS_AT_ONCE, resources.length) }, lane));
  return ids;
}

/**
 * findAllByIdentifier for resources that only ever went out together, in the same transactions. A
 * transaction is carried out whole or not at all, so either every one of them is there or
 * none is: one search tells which, and only when it is there are the others looked up for their
 * ids. The one searched is the Encounter (a record has one,
 * and there are fewer Encounters than Observations to search through). A resend after a 503 that
 * wrote nothing then costs one look-up rather than one per resource.
 */
export async function findAllSentTogether(api: SatusehatApi, orgId: string, resources: Resource[]): Promise<Array<string | undefined>> {
  const ids: Array<string | undefined> = new Array(resources.length).fill(undefined);
  const probe = probeIndex(resources);
  if (probe < 0) return ids;
  ids[probe] = await findByIdentifier(api, orgId, resources[probe]!);
  if (!ids[probe]) return ids;
  const others = resources.map((_, i) => i).filter((i) => i !== probe);
  const found = await findAllByIdentifier(api, orgId, others.map((i) => resources[i]!));
  others.forEach((i, k) => (ids[i] = found[k]));
  return ids;
}

/** The resource that answers for the others: the Encounter when it has an identifier, else the first that has one; -1 when none has. */
function probeIndex(resources: Resource[]): number {
  const searchable = resources.map((r, i) => (businessIdentifier(r) ? i : -1)).filter((i) => i >= 0);
  return searchable.find((i) => resources[i]!.resourceType === 'Encounter') ?? searchable[0] ?? -1;
}

/**
 * One active EpisodeOfCare per patient and type, platform-wide, possibly opened by another
 * faskes; every visit of the pregnancy joins it. `patient` is the IHS reference (Patient/{ihs}).
 */
export async function findActiveEpisode(api: SatusehatApi, orgId: string, episode: EpisodeOfCare, patient: string): Promise<string | undefined> {
  const type = episode.type?.flatMap((t) => t.coding ?? []).find((c) => c.code);
  if (!type?.code) return undefined;
  const found = await api.search<EpisodeOfCare>(orgId, 'EpisodeOfCare', {
    patient,
    type: type.system ? `${type.system}|${type.code}` : type.code,
    status: 'active',
  });
  // The platform may ignore a parameter; keep only what was asked for.
  const match = found.find(
    (e) => e.status === 'active' && e.patient?.reference === patient && e.type?.some((t) => t.coding?.some((c) => c.code === type.code && (!type.system || !c.system || c.system === type.system))),
  );
  return match?.id;
}
