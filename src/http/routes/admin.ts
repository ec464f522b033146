import type { OperationOutcome } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import { message, pickLanguage } from '../../errors/messages.js';
import { shippedAdapters, type ReloadReport } from '../../records/adapters/registry.js';
import { callerOf } from '../auth/authenticate.js';
import { ISSUE_SYSTEM } from '../operation-outcome.js';
import type { Services } from '../services.js';

/** Operator actions on the running gateway. */
export function adminRoutes(app: FastifyInstance, services: Services): void {
  app.post(
    '/v1/admin/adapters/$reload',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Read the adapter files again (added, changed, removed) without a restart; a broken file is refused with its place and the others are served",
      },
    },
    async (req) => {
      const adapters = services.adapters ?? shippedAdapters();
      const report = adapters.reload();
      req.log.info({ by: callerOf(req).keyId, adapters: adapters.names(), refused: report.refused.map((p) => `${p.file}:${p.line}:${p.column}`) }, 'adapters reloaded');
      const lang = pickLanguage(req.headers['accept-language']);
      return { adapters: adapters.names(), ...report, outcome: reloadOutcome(report, lang) };
    },
  );
}

/** Each refused file's problems with their place, and the adapters still served as loaded before. */
function reloadOutcome(report: ReloadReport, lang: 'id' | 'en'): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      ...report.refused.map((p) => ({
        severity: 'error' as const,
        code: 'invalid' as const,
        details: { coding: [{ system: ISSUE_SYSTEM, code: 'adapter.file-refused' }], text: message('adapter.file-refused', lang, { ...p, pointer: p.pointer || '/' }) },
        expression: [p.file],
        location: [p.pointer || '/'],
      })),
      ...report.kept.map((k) => ({
        severity: 'warning' as const,
        code: 'informational' as const,
        details: { coding: [{ system: ISSUE_SYSTEM, code: 'adapter.file-kept' }], text: message('adapter.file-kept', lang, { ...k }) },
        expression: [k.file],
      })),
    ],
  };
}
