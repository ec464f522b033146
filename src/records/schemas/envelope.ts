// Parts every record kind shares (the envelope around each kind's own fields). Written as `const` objects so that
// json-schema-to-ts derives the TypeScript types from the very schema ajv checks and /v1/schemas serves.

const nikSchema = {
  type: 'string',
  pattern: '^[0-9]{16}$',
  description: 'Nomor Induk Kependudukan: 16 digits (region, birth date DDMMYY with +40 for women, serial).',
} as const;

export const dateSchema = { type: 'string', format: 'date', description: 'YYYY-MM-DD' } as const;

const subjectSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'sex', 'birthDate'],
  properties: {
    nik: nikSchema,
    name: { type: 'string', minLength: 1, maxLength: 200 },
    sex: { type: 'string', enum: ['male', 'female'] },
    birthDate: dateSchema,
    mother: {
      type: 'object',
      additionalProperties: false,
      properties: {
        nik: nikSchema,
        name: { type: 'string', minLength: 1, maxLength: 200 },
      },
    },
    birthOrder: { type: 'integer', minimum: 1, maximum: 9, description: '1 for a single birth' },
  },
} as const;

const performerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['role'],
  properties: {
    role: { type: 'string', enum: ['kader', 'bidan', 'perawat', 'dokter', 'gizi', 'other'] },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    nik: nikSchema,
  },
} as const;

export const envelopeProperties = {
  recordId: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' },
  occurredAt: {
    type: 'string',
    format: 'gerbang-datetime',
    description:
      "when the results were taken: date-time with offset (+07:00 WIB, +08:00 WITA, +09:00 WIT) or date. A date alone is sent upstream as 12:00 local time in the posyandu's zone (or the time Gerbang received it, if earlier).",
  },
  visit: {
    type: 'object',
    additionalProperties: false,
    required: ['start', 'end'],
    description:
      "optional: when the person's visit began and ended, date-times with offset; end after start, not in the future, occurredAt within it. Without it the visit is taken to end at occurredAt and to have begun 60 minutes earlier (mappings/fhir-common.json, visit).",
    properties: {
      start: { type: 'string', format: 'gerbang-instant', description: 'date-time with offset' },
      end: { type: 'string', format: 'gerbang-instant', description: 'date-time with offset' },
    },
  },
  posyandu: { type: 'string', minLength: 1, maxLength: 64 },
  subject: subjectSchema,
  performer: performerSchema,
} as const;

export const envelopeRequired = ['kind', 'recordId', 'occurredAt', 'posyandu', 'subject'] as const;
