import type { FromSchema } from 'json-schema-to-ts';
import { dateSchema, envelopeProperties, envelopeRequired } from './envelope.js';

export const immunizationSchema = {
  $id: 'https://gerbang.id/schemas/immunization',
  title: 'Immunisation (imunisasi): one dose',
  type: 'object',
  additionalProperties: false,
  required: [...envelopeRequired, 'vaccine'],
  properties: {
    kind: { const: 'immunization' },
    ...envelopeProperties,
    vaccine: {
      description: 'the vaccine as the app writes it ("DPT-HB-Hib 2", "Pentabio", "POLIO III"), or {antigen, dose} with an antigen key of mappings/vaccines.json. Without a dose it is the only dose of the schedule (BCG, JE, HB0) or the next one after the doses Gerbang knows, with a warning; otherwise refused',
      anyOf: [
        { type: 'string', minLength: 1, maxLength: 120 },
        {
          type: 'object',
          additionalProperties: false,
          required: ['antigen'],
          properties: { antigen: { type: 'string', minLength: 1, maxLength: 40 }, dose: { type: 'integer', minimum: 0, maximum: 10 } },
        },
      ],
    },
    status: { type: 'string', enum: ['given', 'not-given'], default: 'given' },
    notGivenReason: { type: 'string', enum: ['postponed', 'refused', 'contraindicated', 'out-of-stock', 'immune'] },
    notGivenNote: { type: 'string', minLength: 1, maxLength: 200, description: 'why it was not given, in the words of the health worker ("Anak sedang demam")' },
    lotNumber: { type: 'string', minLength: 1, maxLength: 64, description: 'required for a dose a health worker gives (SATUSEHAT 10306)' },
    expirationDate: { ...dateSchema, description: 'YYYY-MM-DD; required for a dose a health worker gives (SATUSEHAT 10307)' },
  },
} as const;

export type ImmunizationRecord = FromSchema<typeof immunizationSchema>;
