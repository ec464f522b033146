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
      description: 'the vaccine as the app writes it ("DPT-HB-Hib 2", "Pentabio", "POLIO III"), or {antigen, dose} with an antigen key of mappings/vaccines.json',
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
    notGivenReason: { type: 'string', enum: ['postponed', 'refused', 'contraindicated'] },
    lotNumber: { type: 'string', minLength: 1, maxLength: 64 },
    expirationDate: dateSchema,
  },
} as const;

export type ImmunizationRecord = FromSchema<typeof immunizationSchema>;
