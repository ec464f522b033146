import type { UpstreamConfig } from '../config/types.js';
import { FhirUpstream } from './fhir-upstream.js';
import { OutboxUpstream } from './outbox-upstream.js';
import type { Upstream } from './upstream.js';

export function createUpstream(cfg: UpstreamConfig): Upstream {
  switch (cfg.kind) {
    case 'fhir':
      return new FhirUpstream(cfg);
    case 'outbox':
      return new OutboxUpstream(cfg);
    case 'satusehat':
      // Refused when the configuration is loaded; kept here so the switch stays exhaustive.
      throw new Error('the satusehat upstream kind is not available yet');
  }
}
