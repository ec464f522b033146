import type { EpisodeOfCare, Resource } from '@medplum/fhirtypes';
import type { SatusehatApi } from './api-client.js';
import { businessIdentifier } from './bundle-rewrite.js';

// SATUSEHAT has no conditional create (reference §8): sending a resource whose identifier it already
// holds is refused as a duplicate (rule 20002), and sending it under a new identifier would make a
// second copy. So whenever a resource may already be there, Gerbang asks first and adopts its id.

/** The id SATUSEHAT holds for this resource's business identifier, if any. */
export async function findByIdentifier(api: SatusehatApi, orgId: string, resource: Resource): Promise<string | undefined> {
  const identifier = businessIdentifier(resource);
  if (!identifier) return undefined;
  const found = await api.search(orgId, resource.resourceType, { identifier: `${identifier.system}|${identifier.value}` });
  return found[0]?.id;
}

// A resend looks up every clinical resource of the record (a dozen for an ANC visit), and one
// search by identifier takes the platform a few hundred ms: four at a time keeps a resend close to
// a first push in time without one push taking more than its share of the connections.
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
 * §5: one active EpisodeOfCare per patient and type, platform-wide, possibly opened by another
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
