import type { Practitioner } from '@medplum/fhirtypes';
import type { SatusehatApi } from './api-client.js';
import type { IdentityCache } from './identity-cache.js';
import { waitingIdentity } from './outcomes.js';
import { NIK_SYSTEM } from './systems.js';

// Health workers (bidan, perawat, dokter, gizi) are read-only master data in SATUSEHAT (Master
// Nakes Index): found by NIK, never created. A kader is not one of them
// and stays text in the Bundle, so only a NIK-bearing performer ever comes here.

export async function resolvePractitioner(deps: { api: SatusehatApi; cache: IdentityCache }, orgId: string, nik: string): Promise<string> {
  const cached = await deps.cache.get('practitioner', [nik]);
  if (cached) return cached;
  const found = await deps.api.search<Practitioner>(orgId, 'Practitioner', { identifier: `${NIK_SYSTEM}|${nik}` });
  const id = (found.find((p) => p.active !== false) ?? found[0])?.id;
  if (!id) throw waitingIdentity('a health worker named in the record is not registered in SATUSEHAT (Master Nakes Index) yet');
  await deps.cache.set('practitioner', [nik], id);
  return id;
}
