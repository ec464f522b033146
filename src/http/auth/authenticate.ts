import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config, Role } from '../../config/types.js';
import { GerbangError } from '../../errors/gerbang-error.js';
import { bearerKey, hashApiKey } from './api-keys.js';
import type { AuthFailures } from './auth-failures.js';
import { ScopeCheck } from '../../config/scope.js';

/**
 * What a route needs from its caller. Every route says which one in its `config.access`:
 *   public        health, schemas, docs, the dashboard's static page (it holds no data)
 *   records:write submitter, admin: post records
 *   records:read  every role: read a record (a submitter reads what its posyandu sent), dry runs
 *   status:read   monitor, admin: summaries and failures of their scope
 *   admin         admin: replay
 */
export type Access = 'public' | 'records:write' | 'records:read' | 'status:read' | 'admin';

const allowed: Record<Exclude<Access, 'public'>, Role[]> = {
  'records:write': ['submitter', 'admin'],
  'records:read': ['submitter', 'monitor', 'admin'],
  'status:read': ['monitor', 'admin'],
  admin: ['admin'],
};

export interface Caller {
  /** the key's id from the configuration; `local` when no keys are configured */
  keyId: string;
  role: Role;
  source: string | undefined;
  scope: ScopeCheck;
  rateLimitPerMinute: number | undefined;
  recordsPerMinute: number | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    caller: Caller | undefined;
  }
}

/**
 * Checks the key before anything else runs. With no keys configured (local use, bound to
 * 127.0.0.1 only, which the configuration enforces) every caller is a local admin. An address
 * that keeps failing gets 429 instead of 401 for the rest of the minute (`failures`).
 */
export function installAuthentication(app: FastifyInstance, config: Config, failures?: AuthFailures): void {
  const local: Caller | undefined =
    config.apiKeys.length === 0
      ? { keyId: 'local', role: 'admin', source: undefined, scope: new ScopeCheck(undefined, config.facilities), rateLimitPerMinute: undefined, recordsPerMinute: undefined }
      : undefined;
  const callers = new Map<string, Caller>();
  for (const k of config.apiKeys) {
    callers.set(k.hash, { keyId: k.id, role: k.role, source: k.source, scope: new ScopeCheck(k.scope, config.facilities), rateLimitPerMinute: k.rateLimitPerMinute, recordsPerMinute: k.recordsPerMinute });
  }

  app.decorateRequest('caller', undefined);
  app.addHook('onRequest', async (req) => {
    const access = req.routeOptions.config?.access ?? 'public';
    const key = bearerKey(req.headers.authorization);
    // A public route still learns who calls, so the rate limit counts per key there too.
    req.caller = local ?? (key ? callers.get(hashApiKey(key)) : undefined);
    if (access === 'public') return;
    const caller = req.caller;
    if (!caller) {
      const wait = await failures?.failed(req.ip);
      if (wait !== undefined) {
        throw new GerbangError('request.rate-limited', [{ key: 'auth.too-many-failures', severity: 'error', params: { seconds: wait } }], { retryAfterSeconds: wait });
      }
      throw new GerbangError(key ? 'auth.invalid-key' : 'auth.required');
    }
    if (!allowed[access].includes(caller.role)) {
      throw new GerbangError('auth.forbidden', [{ key: 'auth.forbidden', severity: 'error', params: { role: caller.role } }]);
    }
  });
}

/** The caller of a route that is not public; the hook has made sure there is one. */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new GerbangError('auth.required');
  return req.caller;
}

// Names and NIKs are for the people who act on a record (admins at the puskesmas or dinas); a
// monitor or a submitter sees places, states and reasons, with upstream words masked.
export function mayShowIdentity(caller: Caller): boolean {
  return caller.role === 'admin';
}

export function outOfScope(posyandu: string, path = 'posyandu'): GerbangError {
  return new GerbangError('auth.out-of-scope', [{ key: 'auth.out-of-scope', severity: 'error', path, params: { posyandu } }]);
}
