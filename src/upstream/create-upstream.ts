import type { Cluster, Redis } from 'ioredis';
import type { UpstreamConfig } from '../config/types.js';
import type { Corrections } from './corrections.js';
import { FhirUpstream } from './fhir-upstream.js';
import { OutboxUpstream } from './outbox-upstream.js';
import { SatusehatUpstream } from './satusehat/satusehat-upstream.js';
import type { Upstream } from './upstream.js';

export interface UpstreamDeps {
  /** token and identity caches (SATUSEHAT); a connection that waits for Redis rather than failing fast */
  redis: Redis | Cluster;
  /** what a correction withdraws */
  corrections: Corrections;
  onTokenRefresh?: (upstream: string) => void;
  /** delivery.maxRetryAfterSeconds: also bounds the penalty a token endpoint's Retry-After asks for */
  maxRetryAfterSeconds?: number;
  /** redis.keyPrefix: the caches' keys live under it like every key Gerbang writes ('g:' unless configured) */
  keyPrefix?: string;
  /** posyandu code → its Location id at SATUSEHAT, where the configuration names one (facilities.posyandu.*.locationId) */
  posyanduLocations?: Readonly<Record<string, string>>;
}

export function createUpstream(cfg: UpstreamConfig, deps: UpstreamDeps): Upstream {
  switch (cfg.kind) {
    case 'fhir':
      return new FhirUpstream(cfg, deps.corrections);
    case 'outbox':
      return new OutboxUpstream(cfg);
    case 'satusehat':
      return new SatusehatUpstream({
        name: cfg.name,
        authUrl: cfg.authUrl,
        baseUrl: cfg.baseUrl,
        credentials: cfg.credentials,
        timeouts: cfg.timeouts,
        maxAnswerBytes: cfg.maxAnswerBytes,
        ...(deps.maxRetryAfterSeconds !== undefined ? { maxRetryAfterSeconds: deps.maxRetryAfterSeconds } : {}),
        redis: deps.redis,
        ...(deps.keyPrefix !== undefined ? { keyPrefix: deps.keyPrefix } : {}),
        corrections: deps.corrections,
        maxConnections: cfg.maxConnections,
        ...(deps.posyanduLocations ? { posyanduLocations: deps.posyanduLocations } : {}),
        identityCacheTtlSeconds: Math.round(cfg.identityCacheHours * 3600),
        newbornMaxAgeDays: cfg.newbornMaxAgeDays,
        ...(deps.onTokenRefresh ? { onTokenRefresh: () => deps.onTokenRefresh?.(cfg.name) } : {}),
      });
  }
}
