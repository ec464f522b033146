import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Redis } from 'ioredis';
import { getJson, postJson, spawnGateway, waitFor } from '../helpers/gateway.js';
import { validAnthropometry } from '../fixtures/records.js';

// The README's quick start: no Redis running, no configuration.

t.test('no configuration: private Redis, outbox upstream, demo registry, loopback only', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gerbang-zero-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const g = await spawnGateway({ GERBANG_DATA_DIR: dataDir, PORT: '0' });
  t.match(g.url, /^http:\/\/127\.0\.0\.1:/, 'bound to 127.0.0.1');
  t.match(g.output(), /starting without GERBANG_CONFIG/, 'says what it chose');
  t.match(g.output(), /started a private redis-server/);

  const res = await postJson(`${g.url}/v1/records`, validAnthropometry);
  t.equal(res.status, 202);
  const rec = await waitFor(async () => {
    const r = await getJson(`${g.url}/v1/records/${res.body.id}`);
    return r.body.status === 'synced' ? r.body : undefined;
  }, 15_000, 'synced to the outbox');
  t.equal(rec.upstreams.outbox.state, 'synced');
  const files = readdirSync(join(dataDir, 'outbox'));
  t.same(files, [`${res.body.id}.v1.json`], 'one file, no temporary leftovers');
  const bundle = JSON.parse(readFileSync(join(dataDir, 'outbox', files[0]!), 'utf8'));
  t.equal(bundle.resourceType, 'Bundle');
  t.ok(existsSync(join(dataDir, 'redis', 'appendonlydir')), 'Redis keeps an append-only file under the data dir');

  const port = readFileSync(join(dataDir, 'redis', 'redis.port'), 'utf8').trim();
  g.child.kill('SIGTERM');
  t.equal(await g.exited, 0);
  const probe = new Redis(Number(port), '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  await t.rejects(probe.connect(), 'the private redis-server stopped with the gateway');
  probe.disconnect();
});

t.test('redis-server missing: says how to install it and exits non-zero', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gerbang-zero-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  await t.rejects(spawnGateway({ GERBANG_DATA_DIR: dataDir, PORT: '0', PATH: '/nonexistent' }), /apt-get install -y redis-server/);
});
