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
