import type { SwaggerOptions } from '@fastify/swagger';
import { recordSchemas } from '../records/schemas/index.js';

// /docs: the OpenAPI document built from the route schemas, plus the record schemas the ingest
// routes validate against themselves (they answer with an OperationOutcome, not Fastify's error,
// so their bodies are not Fastify route schemas and are added here instead).

const recordRef = { oneOf: Object.keys(recordSchemas).map((kind) => ({ $ref: `#/components/schemas/${kind}` })) };

const bodies: Record<string, { description: string; content: Record<string, { schema: unknown }> }> = {
  'POST /v1/records': {
    description: "One canonical record, or an app's native JSON with ?source=<adapter>",
    content: { 'application/json': { schema: recordRef } },
  },
  'POST /v1/$map': {
    description: 'A record to map without storing or sending it',
    content: { 'application/json': { schema: recordRef } },
  },
  'POST /v1/records/$batch': {
    description: 'A JSON array of records, or NDJSON with one record per line (up to server.batchMaxRecords)',
    content: {
      'application/json': { schema: { type: 'array', items: recordRef } },
      'application/x-ndjson': { schema: { type: 'string', description: 'one JSON record per line' } },
    },
  },
};

export function openApiOptions(): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gerbang',
        version: '1',
        description: 'FHIR gateway from posyandu apps to SATUSEHAT. Errors are FHIR OperationOutcome resources (docs/errors.md).',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key from `gerbang key create`' } },
        schemas: Object.fromEntries(Object.entries(recordSchemas).map(([kind, schema]) => [kind, withoutId(schema)])) as never,
      },
      security: [{ apiKey: [] }],
    },
    hideUntagged: false,
  };
}

/** Adds the record bodies to the document @fastify/swagger built from the routes. */
export function openApiTransform(spec: Record<string, unknown>): Record<string, unknown> {
  const paths = (spec.paths ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  for (const [key, requestBody] of Object.entries(bodies)) {
    const [method = '', path = ''] = key.split(' ');
    const op = paths[path]?.[method.toLowerCase()];
    if (op) op.requestBody = requestBody;
  }
  return spec;
}

function withoutId(schema: object): object {
  const { $id: _id, ...rest } = schema as { $id?: string };
  return rest;
}
