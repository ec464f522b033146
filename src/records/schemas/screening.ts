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
    hba1cPercent: { type: 'number', exclusiveMinimum: 0, description: 'HbA1c in % of total haemoglobin (NGSP/DCCT), e.g. 6.1' },
    hemoglobinGdl: { type: 'number', exclusiveMinimum: 0 },
    smoker: { type: 'boolean', description: 'smokes now' },
    cigarettesPerDay: { type: 'integer', minimum: 1, maximum: 200, description: 'average cigarettes a day, for one who smokes or smoked (Q0013 item 1.2)' },
    smokingYears: { type: 'number', minimum: 0, maximum: 100, description: 'years of smoking (Q0013 item 1.3)' },
  },
  dependencies: { systolic: ['diastolic'], diastolic: ['systolic'], glucoseMgdl: ['glucoseTest'], cigarettesPerDay: ['smoker'], smokingYears: ['smoker'] },
} as const;

export type ScreeningRecord = FromSchema<typeof screeningSchema>;
