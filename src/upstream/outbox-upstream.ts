import { randomUUID } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import type { UpstreamConfig } from '../config/types.js';
import type { PushResult, Upstream } from './upstream.js';

type OutboxConfig = Extract<UpstreamConfig, { kind: 'outbox' }>;

/**
 * Writes each Bundle to a file for offline export. One file per record version: a retry after a
 * crash writes the same name again, so the outbox never holds two copies of one version. The write
 * goes to a temporary name, is synced, and is renamed into place: a reader never sees half a file.
 */
export class OutboxUpstream implements Upstream {
  readonly kind = 'outbox';
  readonly name: string;
  private ready: Promise<unknown> | undefined;

  constructor(private readonly cfg: OutboxConfig) {
    this.name = cfg.name;
  }

  describe() {
    return { name: this.name, kind: this.kind, target: this.cfg.directory };
  }

  async push(bundle: Bundle, ctx: { recordId: string; version: number }): Promise<PushResult> {
    const started = performance.now();
    try {
      this.ready ??= mkdir(this.cfg.directory, { recursive: true });
      await this.ready;
      const finalName = join(this.cfg.directory, `${ctx.recordId}.v${ctx.version}.json`);
      const tmpName = join(this.cfg.directory, `.${ctx.recordId}.${randomUUID()}.tmp`);
      const file = await open(tmpName, 'w', 0o600);
      try {
        await file.writeFile(JSON.stringify(bundle));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmpName, finalName);
      return { outcome: { kind: 'delivered' }, resources: [], durationMs: performance.now() - started };
    } catch (err) {
      this.ready = undefined;
      // A full or unwritable disk is an outage of this upstream, not a fault of the record.
      return { outcome: { kind: 'network', code: `fs-${String((err as NodeJS.ErrnoException).code ?? 'error').toLowerCase()}` }, durationMs: performance.now() - started };
    }
  }

  async close(): Promise<void> {}
}
