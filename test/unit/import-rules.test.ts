import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cruise, type IConfiguration, type ICruiseResult } from 'dependency-cruiser';
import t from 'tap';

// The lint step (npm run lint) runs dependency-cruiser with .dependency-cruiser.cjs over src/. Here
// the same rules run over small trees made to break them, so a rule that stops matching (a typo in
// a path, an option dropped) fails a test instead of letting every cycle through.

const config = createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as IConfiguration;

async function violations(fixture: string): Promise<string[]> {
  const baseDir = fileURLToPath(new URL(`../fixtures/layers/${fixture}`, import.meta.url));
  const { tsConfig: _ownTsConfig, ...options } = config.options ?? {};
  const result = await cruise(['src'], { ...options, baseDir, validate: true, ruleSet: { forbidden: config.forbidden ?? [] } });
  const output = result.output as ICruiseResult;
  return output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

t.test('an import cycle is refused, type-only imports included', async (t) => {
  // province.ts imports nik.ts for a type only: without it there is no cycle to find.
  t.same(await violations('cycle'), ['no-circular: src/records/nik.ts → src/records/province.ts']);
});

t.test('a layer importing from one above it is refused', async (t) => {
  t.same(await violations('upward'), ['layer-records: src/records/checks.ts → src/fhir/map-record.ts']);
});

t.test('a downward import passes', async (t) => {
  t.same(await violations('clean'), []);
});

t.test('the lock imports nothing of the gateway, and the upstream may import it', async (t) => {
  // Both sync and upstream use the lock, so anything it imported would sit below both of them.
  t.same(await violations('lock-leaf'), ['layer-locks: src/locks/redis-lock.ts → src/log/logger.ts']);
});
