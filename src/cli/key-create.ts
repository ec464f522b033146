import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config/load.js';
import type { ApiKeyConfig, Role, Scope } from '../config/types.js';
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
}

const ROLES: Role[] = ['submitter', 'monitor', 'admin'];

/**
 * `gerbang key create`: makes a key, adds only its hash to the configuration file, and returns
 * the key to print once. The file is checked with the new key in it before it is replaced, so a
 * typo in a scope leaves the old file untouched.
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
    ...(Object.keys(scope).length > 0 ? { scope } : {}),
  };

  const text = readFileSync(opts.config, 'utf8');
  const file = JSON.parse(text) as { apiKeys?: ApiKeyConfig[] };
  if ((file.apiKeys ?? []).some((k) => k.id === opts.id)) throw new ConfigError(`${opts.config}: a key with id "${opts.id}" exists; remove it first or pick another id`);
  file.apiKeys = [...(file.apiKeys ?? []), entry];
  const next = `${JSON.stringify(file, null, 2)}\n`;
  const tmp = `${opts.config}.new`;
  writeFileSync(tmp, next, { mode: 0o600 });
  try {
    // Validate as the gateway would at start-up; ${ENV} placeholders in the file need not be set
    // here, so they are given dummy values for the check.
    const placeholders = Object.fromEntries([...next.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => [m[1], 'x']));
    loadConfig({ ...placeholders, GERBANG_CONFIG: tmp });
  } catch (err) {
    writeFileSync(tmp, '');
    throw err;
  }
  renameSync(tmp, opts.config);
  return { key, entry };
}
