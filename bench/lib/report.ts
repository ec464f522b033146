// bench/last-run.json: every figure of the last run, so that docs/performance.md can be written
// from it. run.ts starts the file; delivery.ts adds its part.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const file = fileURLToPath(new URL('../last-run.json', import.meta.url));

export function writeReport(part: string, figures: unknown, opts: { fresh: boolean }): void {
  const before = !opts.fresh && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  writeFileSync(file, `${JSON.stringify({ ...before, [part]: { at: new Date().toISOString(), ...(figures as object) } }, null, 2)}\n`);
}
