import type { FromSchema } from 'json-schema-to-ts';
import { envelopeProperties, envelopeRequired } from './envelope.js';

export const anthropometrySchema = {
  $id: 'https://gerbang.id/schemas/anthropometry',
  title: 'Anthropometry (penimbangan/pengukuran anak)',
  type: 'object',
  additionalProperties: false,
  required: envelopeRequired,
  properties: {
    kind: { const: 'anthropometry' },
    ...envelopeProperties,
    weightKg: { type: 'number', exclusiveMinimum: 0, description: 'kilograms' },
    heightCm: { type: 'number', exclusiveMinimum: 0, description: 'centimetres; say how with `position`' },
    position: { type: 'string', enum: ['lying', 'standing'] },
    headCircumferenceCm: { type: 'number', exclusiveMinimum: 0 },
    muacCm: { type: 'number', exclusiveMinimum: 0, description: 'mid-upper arm circumference (LiLA)' },
    oedema: { type: 'boolean' },
    vitaminA: { type: 'string', enum: ['blue', 'red'] },
    exclusiveBreastfeeding: { type: 'boolean' },
    // Optional (SATUSEHAT's official Gizi and Neonatus Postman collections send them): the child's measurements at
    // birth as the KIA book or the birth record has them, sent as their own Observations.
    birthWeightG: { type: 'number', exclusiveMinimum: 0, description: 'birth weight in grams (berat badan lahir)' },
    birthLengthCm: { type: 'number', exclusiveMinimum: 0, description: 'length at birth in centimetres (panjang badan lahir)' },
  },
  dependencies: { heightCm: ['position'] },
} as const;

export type AnthropometryRecord = FromSchema<typeof anthropometrySchema>;
