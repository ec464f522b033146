import type { FromSchema } from 'json-schema-to-ts';

const timeoutsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    connectMs: { type: 'integer', minimum: 100 },
    headersMs: { type: 'integer', minimum: 100 },
    bodyMs: { type: 'integer', minimum: 100 },
    totalMs: { type: 'integer', minimum: 100 },
  },
} as const;

const maxAnswerBytesSchema = { type: 'integer', minimum: 1024 } as const;

// Settings every upstream kind takes: how fast Gerbang may push to it, and when to stop trying for a while.
const commonUpstreamProperties = {
  name: true,
  kind: true,
  pushesPerSecond: { type: 'number', exclusiveMinimum: 0, maximum: 10000 },
  circuit: {
    type: 'object',
    additionalProperties: false,
    properties: {
      failureThreshold: { type: 'integer', minimum: 1, maximum: 10000 },
      failureRate: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      windowSize: { type: 'integer', minimum: 1, maximum: 1000 },
      openSeconds: { type: 'number', minimum: 1 },
      maxOpenSeconds: { type: 'number', minimum: 1 },
    },
  },
} as const;

const upstreamSchema = {
  type: 'object',
  required: ['name', 'kind'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' },
    kind: { enum: ['fhir', 'outbox', 'satusehat'] },
  },
  oneOf: [
    {
      additionalProperties: false,
      required: ['baseUrl'],
      properties: {
        ...commonUpstreamProperties,
        kind: { const: 'fhir' },
        baseUrl: { type: 'string', pattern: '^https?://' },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        maxConnections: { type: 'integer', minimum: 1, maximum: 256 },
        maxEntriesPerTransaction: { type: 'integer', minimum: 4, maximum: 10000 },
        timeouts: timeoutsSchema,
        maxAnswerBytes: maxAnswerBytesSchema,
        validation: {
          type: 'object',
          additionalProperties: false,
          properties: { connections: { type: 'integer', minimum: 1, maximum: 64 }, totalMs: { type: 'integer', minimum: 100 } },
        },
      },
    },
    {
      additionalProperties: false,
      required: ['directory'],
      properties: { ...commonUpstreamProperties, kind: { const: 'outbox' }, directory: { type: 'string', minLength: 1 } },
    },
    {
      additionalProperties: false,
      required: ['authUrl', 'baseUrl', 'credentials'],
      properties: {
        ...commonUpstreamProperties,
        kind: { const: 'satusehat' },
        authUrl: { type: 'string', pattern: '^https?://' },
        baseUrl: { type: 'string', pattern: '^https?://' },
        credentials: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['clientId', 'clientSecret'],
            properties: { clientId: { type: 'string' }, clientSecret: { type: 'string' } },
          },
        },
        timeouts: timeoutsSchema,
        maxAnswerBytes: maxAnswerBytesSchema,
        maxConnections: { type: 'integer', minimum: 1, maximum: 256 },
        identityCacheHours: { type: 'number', exclusiveMinimum: 0 },
        newbornMaxAgeDays: { type: 'integer', minimum: 0, maximum: 365 },
      },
    },
  ],
} as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['upstreams', 'facilities'],
  properties: {
    $schema: { type: 'string' },
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        bodyLimitBytes: { type: 'integer', minimum: 1024 },
        batchMaxRecords: { type: 'integer', minimum: 1, maximum: 1000000 },
        batchRecordMaxBytes: { type: 'integer', minimum: 1024 },
        batchMaxBytes: { type: 'integer', minimum: 1024 },
        jsonMaxDepth: { type: 'integer', minimum: 8, maximum: 1000 },
        rateLimitPerMinute: { type: 'integer', minimum: 1 },
        recordsPerMinute: { type: 'integer', minimum: 1 },
        authFailuresPerMinute: { type: 'integer', minimum: 1 },
        connectionTimeoutMs: { type: 'integer', minimum: 1000 },
        requestTimeoutMs: { type: 'integer', minimum: 1000 },
        headersTimeoutMs: { type: 'integer', minimum: 1000 },
        keepAliveTimeoutMs: { type: 'integer', minimum: 100 },
        maxRequestsPerSocket: { type: 'integer', minimum: 0 },
        maxConnections: { type: 'integer', minimum: 1 },
      },
    },
    adapters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        directory: { type: 'string', minLength: 1, description: "a folder of the site's own adapter files, read beside mappings/adapters" },
        watch: { type: 'boolean', description: 'reload the adapters when a file in their folders changes' },
      },
    },
    retention: {
      type: 'object',
      additionalProperties: false,
      properties: {
        payloadDays: { type: 'number', minimum: 0 },
        sweepIntervalMinutes: { type: 'number', exclusiveMinimum: 0 },
        unsyncedPayloadDays: { type: 'number', minimum: 0 },
        recordMonths: { type: 'integer', minimum: 1, maximum: 1200, description: 'months a whole record is kept in the PostgreSQL ledger (absent: for good)' },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxmemoryMb: { type: 'integer', minimum: 16 },
        highWaterPercent: { type: 'number', minimum: 10, maximum: 99 },
      },
    },
    ledger: {
      type: 'object',
      additionalProperties: false,
      properties: {
        store: { enum: ['postgres', 'redis'], description: 'where the ledger (every accepted record and its states) is kept' },
      },
    },
    database: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // DATABASE_URL in the environment wins; neither: a private PostgreSQL under the data directory
        url: { type: 'string', pattern: '^postgres(ql)?://' },
        maxConnections: { type: 'integer', minimum: 2, maximum: 1000 },
        connectionTimeoutMs: { type: 'integer', minimum: 100, maximum: 60000 },
        statementTimeoutMs: { type: 'integer', minimum: 100 },
        idleTimeoutMs: { type: 'integer', minimum: 0 },
      },
    },
    redis: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // Printable ASCII: the Lua scripts build keys from it (src/sync/store/keys.ts).
        keyPrefix: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' },
        queuePrefix: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' },
        // REDIS_URL then names one or more of the cluster's nodes; the prefixes need a hash tag
        // (src/config/redis-cluster.ts).
        cluster: { type: 'boolean' },
      },
    },
    security: {
      type: 'object',
      additionalProperties: false,
      properties: {
        historyKey: { type: 'string', minLength: 32 },
        payloadKeys: {
          type: 'object',
          additionalProperties: false,
          required: ['current', 'keys'],
          properties: {
            current: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
            keys: {
              type: 'object',
              minProperties: 1,
              propertyNames: { pattern: '^[A-Za-z0-9._-]{1,64}$' },
              additionalProperties: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
            },
          },
        },
      },
    },
    dataDir: { type: 'string', minLength: 1 },
    upstreams: { type: 'array', minItems: 1, items: upstreamSchema },
    facilities: {
      type: 'object',
      additionalProperties: false,
      required: ['puskesmas', 'posyandu'],
      properties: {
        puskesmas: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'organizationId', 'regency'],
            properties: {
              name: { type: 'string' },
              organizationId: { type: 'string', minLength: 1 },
              regency: { type: 'string', pattern: '^[0-9]{4}$' },
              timeZone: { enum: ['WIB', 'WITA', 'WIT'] },
            },
          },
        },
        posyandu: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'puskesmas'],
            properties: {
              name: { type: 'string' },
              puskesmas: { type: 'string' },
              village: { type: 'string' },
              // the posyandu's Location at SATUSEHAT, when its puskesmas registered it there: a FHIR id
              locationId: { type: 'string', pattern: '^[A-Za-z0-9.-]{1,64}$' },
              supervisorNik: { type: 'string', pattern: '^[0-9]{16}$' },
              timeZone: { enum: ['WIB', 'WITA', 'WIT'] },
            },
          },
        },
      },
    },
    apiKeys: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'hash', 'role'],
        properties: {
          id: { type: 'string' },
          hash: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
          role: { enum: ['submitter', 'monitor', 'admin'] },
          source: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' },
          rateLimitPerMinute: { type: 'integer', minimum: 1 },
          recordsPerMinute: { type: 'integer', minimum: 1 },
          scope: {
            type: 'object',
            additionalProperties: false,
            properties: {
              posyandu: { type: 'array', items: { type: 'string' } },
              puskesmas: { type: 'array', items: { type: 'string' } },
              regency: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    delivery: {
      type: 'object',
      additionalProperties: false,
      properties: {
        concurrency: { type: 'integer', minimum: 1, maximum: 256 },
        maxAttempts: { type: 'integer', minimum: 1, maximum: 1000 },
        maxAgeHours: { type: 'number', exclusiveMinimum: 0 },
        baseDelayMs: { type: 'integer', minimum: 1 },
        maxDelayMs: { type: 'integer', minimum: 1 },
        lockDurationMs: { type: 'integer', minimum: 1000 },
        maxRetryAfterSeconds: { type: 'integer', minimum: 1 },
        identityWait: {
          type: 'object',
          additionalProperties: false,
          properties: {
            firstMinutes: { type: 'number', exclusiveMinimum: 0 },
            maxHours: { type: 'number', exclusiveMinimum: 0 },
            maxAgeDays: { type: 'number', exclusiveMinimum: 0 },
          },
        },
        runWorker: { type: 'boolean' },
      },
    },
  },
} as const;

export type ConfigFile = FromSchema<typeof configSchema>;
