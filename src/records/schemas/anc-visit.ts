import type { FromSchema } from 'json-schema-to-ts';
import { dateSchema, envelopeProperties, envelopeRequired } from './envelope.js';

export const ancVisitSchema = {
  $id: 'https://gerbang.id/schemas/anc-visit',
  title: 'Antenatal care visit (kunjungan ibu hamil)',
  type: 'object',
  additionalProperties: false,
  required: [...envelopeRequired, 'pregnancy'],
  properties: {
    kind: { const: 'anc-visit' },
    ...envelopeProperties,
    pregnancy: {
      type: 'object',
      additionalProperties: false,
      required: ['lmp'],
      properties: {
        lmp: { ...dateSchema, description: 'HPHT: first day of the last menstrual period' },
        edd: { ...dateSchema, description: 'HPL: estimated delivery date (HPHT + 280 days when not sent)' },
        gravida: { type: 'integer', minimum: 1, maximum: 20 },
        para: { type: 'integer', minimum: 0, maximum: 20 },
        abortus: { type: 'integer', minimum: 0, maximum: 20 },
        lastDeliveryDate: { ...dateSchema, description: 'date of the previous birth, for the interval between pregnancies' },
      },
    },
    visitNumber: { type: 'string', enum: ['K1', 'K2', 'K3', 'K4', 'K5', 'K6'] },
    gestationalAgeWeeks: { type: 'integer', minimum: 0, maximum: 45 },
    weightKg: { type: 'number', exclusiveMinimum: 0 },
    heightCm: { type: 'number', exclusiveMinimum: 0 },
    muacCm: { type: 'number', exclusiveMinimum: 0 },
    systolic: { type: 'integer', exclusiveMinimum: 0 },
    diastolic: { type: 'integer', exclusiveMinimum: 0 },
    fundalHeightCm: { type: 'number', exclusiveMinimum: 0 },
    fetalHeartRate: { type: 'integer', exclusiveMinimum: 0, description: 'beats per minute' },
    fetalPresentation: { type: 'string', enum: ['cephalic', 'breech', 'transverse'] },
    hemoglobinGdl: { type: 'number', exclusiveMinimum: 0 },
    ironTablets: { type: 'integer', minimum: 0, maximum: 200, description: 'iron tablets (TTD) given at this visit' },
    urineProtein: { type: 'string', enum: ['negative', '+1', '+2', '+3'] },
  },
  dependencies: { systolic: ['diastolic'], diastolic: ['systolic'] },
} as const;

export type AncVisitRecord = FromSchema<typeof ancVisitSchema>;
