// Identifier systems and URLs SATUSEHAT fixes (as its official Postman collections use them). Kept in one place so
// the resolvers and the Bundle rewrite agree on what "a NIK" or "our own identifier" looks like.

export const NIK_SYSTEM = 'https://fhir.kemkes.go.id/id/nik';
export const NIK_IBU_SYSTEM = 'https://fhir.kemkes.go.id/id/nik-ibu';
export const PATIENT_PROFILE = 'https://fhir.kemkes.go.id/r4/StructureDefinition/Patient';

/** Business identifiers a faskes mints: `http://sys-ids.kemkes.go.id/{kind}/{orgId}`. */
export const SYS_IDS_PREFIX = 'http://sys-ids.kemkes.go.id/';

const ORGANIZATION_SYSTEM = /^http:\/\/sys-ids\.kemkes\.go\.id\/organization\/([^/]+)$/;
const ANY_SYS_IDS_SYSTEM = /^http:\/\/sys-ids\.kemkes\.go\.id\/[a-z-]+\/([^/]+)$/;

/** The organization id an `…/organization/{orgId}` identifier system names, if it is one. */
export function organizationOfSystem(system: string | undefined): string | undefined {
  return system ? ORGANIZATION_SYSTEM.exec(system)?.[1] : undefined;
}

/** The organization id inside any sys-ids system (`…/encounter/{orgId}` and the like). */
export function organizationInSysIds(system: string | undefined): string | undefined {
  return system ? ANY_SYS_IDS_SYSTEM.exec(system)?.[1] : undefined;
}
