import { ancVisitSchema, type AncVisitRecord } from './anc-visit.js';
import { anthropometrySchema, type AnthropometryRecord } from './anthropometry.js';
import { immunizationSchema, type ImmunizationRecord } from './immunization.js';
import { screeningSchema, type ScreeningRecord } from './screening.js';

/** Record kinds Gerbang accepts, each with the JSON Schema served at /v1/schemas/{kind}. */
export const recordSchemas = {
  anthropometry: anthropometrySchema,
  'anc-visit': ancVisitSchema,
  immunization: immunizationSchema,
  screening: screeningSchema,
} as const;

export type RecordKind = keyof typeof recordSchemas;
export type CanonicalRecord = AnthropometryRecord | AncVisitRecord | ImmunizationRecord | ScreeningRecord;

export function isRecordKind(kind: unknown): kind is RecordKind {
  return typeof kind === 'string' && Object.hasOwn(recordSchemas, kind);
}
