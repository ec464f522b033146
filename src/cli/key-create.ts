import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import type { ApiKeyConfig, Config, Role, Scope } from '../config/types.js';
import { hashApiKey, newApiKey } from '../http/auth/api-keys.js';

export interface KeyCreateOptions {
  config: string;
  id: string;
  role: string;
  posyandu?: string;
  puskesmas?: string;
  regency?: string;
  source?: string;
  rateLimitPerMinute?: number;
  recordsPerMinute?: number;
}

const ROLES: Role[] = ['submitter', 'monitor', 'admin'];

/**
 * `gerbang key create`: makes a key, adds only its hash to the configuration file, and returns
 * the key to print once. A scope the registry does not know is refused before the file is
 * touched.
 */
export function createKey(opts: KeyCreateOptions): { key: string; entry: ApiKeyConfig } {
  if (!ROLES.includes(opts.role as Role)) throw new ConfigError(`--role must be one of ${ROLES.join(', ')}`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.id)) throw new ConfigError('--id: letters, digits, dot, dash or underscore (up to 64)');
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
  const scope: Scope = {};
  for (const level of ['posyandu', 'puskesmas', 'regency'] as const) {
    const codes = list(opts[level]);
    if (codes) scope[level] = codes;
  }
  const key = newApiKey();
  const entry: ApiKeyConfig = {
    id: opts.id,
    hash: hashApiKey(key),
    role: opts.role as Role,
    ...(opts.source ? { source: opts.source } : {}),
    ...(opts.rateLimitPerMinute ? { rateLimitPerMinute: opts.rateLimitPerMinute } : {}),
    ...(opts.recordsPerMinute ? { recordsPerMinute: opts.recordsPerMinute } : {}),
    ...(Object.keys(scope).length > 0 ? { scope } : {}),
  };

  const text = readFileSync(opts.config, 'utf8');
  const file = JSON.parse(text) as { apiKeys?: ApiKeyConfig[]; facilities?: Partial<Config['facilities']> };
  if ((file.apiKeys ?? []).some((k) => k.id === opts.id)) throw new ConfigError(`${opts.config}: a key with id "${opts.id}" exists; remove it first or pick another id`);
  checkScope(scope, file.facilities ?? {}, opts.config);
  file.apiKeys = [...(file.apiKeys ?? []), entry];
  // Written next to the file and renamed over it: a crash never leaves half a configuration.
  const tmp = `${opts.config}.new`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, opts.config);
  return { key, entry };
}

/** The same check the gateway makes at start-up, before the file is touched. */
function checkScope(scope: Scope, facilities: Partial<Config['facilities']>, path: string): void {
  const puskesmas = facilities.puskesmas ?? {};
  const regencies = new Set(Object.values(puskesmas).map((p) => p.regency));
  const known = { posyandu: (c: string) => c in (facilities.posyandu ?? {}), puskesmas: (c: string) => c in puskesmas, regency: (c: string) => regencies.has(c) };
  const unknown = (['posyandu', 'puskesmas', 'regency'] as const).flatMap((level) => (scope[level] ?? []).filter((c) => !known[level](c)).map((c) => `--${level} ${c}`));
  if (unknown.length > 0) throw new ConfigError(`${path}: ${unknown.join(', ')} not in /facilities`);
}
