import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { writeTestConfig } from '../helpers/gateway.js';

// `gerbang key create` from the command line: the key is printed once, only its hash is stored,
// and a mistake leaves the configuration as it was.

const run = promisify(execFile);
const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/cli/main.ts'), ...args], { env: { PATH: process.env.PATH ?? '', ...env } });

t.test('creates a scoped monitor key', async (t) => {
  const cfg = writeTestConfig({ redisUrl: 'redis://127.0.0.1:1' });
  t.teardown(cfg.cleanup);
  const { stdout, stderr } = await cli(['key', 'create', '--id', 'pkm-cibinong', '--role', 'monitor', '--puskesmas', 'P3201010101', '--config', cfg.path]);
  const key = stdout.trim();
  t.match(key, /^gbk_[A-Za-z0-9_-]{43}$/, 'the key, on stdout alone');
  t.match(stderr, /shown once/);
  const text = readFileSync(cfg.path, 'utf8');
  t.notOk(text.includes(key), 'the key itself is not stored');
  const file = JSON.parse(text);
  t.same(file.apiKeys, [{ id: 'pkm-cibinong', hash: hashApiKey(key), role: 'monitor', scope: { puskesmas: ['P3201010101'] } }]);

  const second = await cli(['key', 'create', '--id', 'app-sip', '--role', 'submitter', '--posyandu', '3201010001-01,3201010001-02', '--source', 'sim-posyandu', '--records', '2000'], { GERBANG_CONFIG: cfg.path });
  const keys = JSON.parse(readFileSync(cfg.path, 'utf8')).apiKeys;
  t.equal(keys.length, 2, 'GERBANG_CONFIG names the file too; keys are added');
  t.same(keys[1].scope, { posyandu: ['3201010001-01', '3201010001-02'] });
  t.equal(keys[1].source, 'sim-posyandu');
  t.equal(keys[1].recordsPerMinute, 2000, '--records sets the key\'s records budget');
  t.not(second.stdout.trim(), key, 'every key is new');
});

t.test('a scope that is not in the registry, a bad role or a used id change nothing', async (t) => {
  const cfg = writeTestConfig({ redisUrl: 'redis://127.0.0.1:1' });
  t.teardown(cfg.cleanup);
  writeFileSync(cfg.path, JSON.stringify({ ...JSON.parse(readFileSync(cfg.path, 'utf8')), upstreams: [{ name: 'hapi', kind: 'fhir', baseUrl: '${HAPI_URL}' }] }, null, 2));
  const before = readFileSync(cfg.path, 'utf8');
  for (const args of [
    ['--id', 'x', '--role', 'monitor', '--puskesmas', 'P9999999999'],
    ['--id', 'x', '--role', 'root'],
  ]) {
    const err = await cli(['key', 'create', ...args, '--config', cfg.path]).then(() => undefined, (e: { code: number; stderr: string }) => e);
    t.equal(err?.code, 1, args.join(' '));
    t.match(err?.stderr, /--puskesmas P9999999999 not in \/facilities|--role must be one of/);
    t.equal(readFileSync(cfg.path, 'utf8'), before, 'the file is unchanged');
  }
  await cli(['key', 'create', '--id', 'dinkes', '--role', 'admin', '--config', cfg.path]);
  t.match(readFileSync(cfg.path, 'utf8'), /\$\{HAPI_URL\}/, '${ENV} placeholders stay as they were');
  const dup = await cli(['key', 'create', '--id', 'dinkes', '--role', 'admin', '--config', cfg.path]).then(() => undefined, (e: { stderr: string }) => e);
  t.match(dup?.stderr, /exists/);
});
