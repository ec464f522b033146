import type { FastifyInstance } from 'fastify';
import { GerbangError } from '../../errors/gerbang-error.js';
import { isRecordKind, recordSchemas } from '../../records/schemas/index.js';

export function schemaRoutes(app: FastifyInstance): void {
  app.get('/v1/schemas', async () => ({ kinds: Object.keys(recordSchemas).map((k) => ({ kind: k, schema: `/v1/schemas/${k}` })) }));

  app.get<{ Params: { kind: string } }>('/v1/schemas/:kind', async (req, reply) => {
    if (!isRecordKind(req.params.kind)) {
      throw new GerbangError('schema.not-found', [{ key: 'schema.not-found', severity: 'error', params: { kind: req.params.kind } }]);
    }
    return reply.type('application/schema+json').send(recordSchemas[req.params.kind]);
  });
}
