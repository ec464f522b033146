import type { Observation } from '@medplum/fhirtypes';
import type { EnvelopeRefs, RecordContext } from './map-envelope.js';
import { fhirCommon, identifierSystem } from './terminology.js';

/**
 * What every Observation of a record shares. `issued` is the record's time: a posyandu result is
 * available when it is measured, and every official example carries it. Only the Practitioner who
 * answers for the visit is a performer: SATUSEHAT takes Practitioner references only (rule 10383),
 * so a kader who measured is not named here.
 */
export function observationBase(
  ctx: RecordContext,
  refs: EnvelopeRefs,
  key: string,
  category: string,
): Omit<Observation, 'code'> & { resourceType: 'Observation' } {
  return {
    resourceType: 'Observation',
    identifier: [{ system: identifierSystem('observation', ctx.puskesmas.organizationId), value: `${ctx.key}.${key}` }],
    status: 'final',
    category: [
      {
        coding: [
          { system: fhirCommon().observationCategorySystem, code: category, display: fhirCommon().observationCategories[category] ?? category },
        ],
      },
    ],
    subject: refs.patient,
    encounter: refs.encounter,
    effectiveDateTime: refs.effective,
    issued: refs.effective,
    ...(refs.performer ? { performer: refs.performer } : {}),
  };
}
