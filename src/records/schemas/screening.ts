import type { FromSchema } from 'json-schema-to-ts';
import { envelopeProperties, envelopeRequired } from './envelope.js';

export const screeningSchema = {
  $id: 'https://gerbang.id/schemas/screening',
  title: 'Screening (skrining PTM / posbindu / lansia / remaja)',
  type: 'object',
  additionalProperties: false,
  required: envelopeRequired,
  properties: {
    kind: { const: 'screening' },
    ...envelopeProperties,
    systolic: { type: 'integer', exclusiveMinimum: 0, description: 'mmHg' },
    diastolic: { type: 'integer', exclusiveMinimum: 0, description: 'mmHg' },
    weightKg: { type: 'number', exclusiveMinimum: 0 },
    heightCm: { type: 'number', exclusiveMinimum: 0 },
    waistCm: { type: 'number', exclusiveMinimum: 0, description: 'waist circumference (lingkar pinggang)' },
    glucoseMgdl: { type: 'number', exclusiveMinimum: 0 },
    glucoseTest: { type: 'string', enum: ['random', 'fasting', '2h-pp'] },
    cholesterolMgdl: { type: 'number', exclusiveMinimum: 0, description: 'total cholesterol' },
    uricAcidMgdl: { type: 'number', exclusiveMinimum: 0 },
    hemoglobinGdl: { type: 'number', exclusiveMinimum: 0 },
    smoker: { type: 'boolean' },
  },
  dependencies: { systolic: ['diastolic'], diastolic: ['systolic'], glucoseMgdl: ['glucoseTest'] },
} as const;

export type ScreeningRecord = FromSchema<typeof screeningSchema>;
