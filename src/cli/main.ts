#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { MappingDataError } from '../tables/mapping-data-error.js';
import { PostgresNotInstalledError } from '../runtime/private-postgres.js';
import { RedisNotInstalledError } from '../runtime/private-redis.js';

const usage = `gerbang: FHIR gateway from posyandu apps to SATUSEHAT

Usage:
  gerbang serve     start the gateway (HTTP ingest + delivery worker)   [default]
  gerbang worker    start only the delivery worker (to scale out)
  gerbang adapter test <adapter | adapter-file.json> <file> [--posyandu CODE]
                    show the canonical records an app's native record becomes, or its problems
  gerbang import <file.ndjson> [--url URL] [--key KEY] [--source APP] [--posyandu CODE] [--chunk N]
                    send a backlog file to $batch with a progress bar; run it again to resume; records the
                    key's records budget holds back are sent again when the gateway says
  gerbang key create --id ID --role submitter|monitor|admin [--puskesmas P1,P2] [--posyandu ..] [--regency ..]
                    [--source APP] [--rate PER_MINUTE] [--records PER_MINUTE] [--config FILE]
                    make an API key: prints it once, stores only its hash in the configuration file
  gerbang ledger import [--force]
                    bring the Redis ledger of a 0.3 to 0.5 gateway (REDIS_URL) into PostgreSQL (DATABASE_URL);
                    stop every gerbang process first; run it again to resume (docs/postgres-ledger.md)
  gerbang keys rotate-payloads
                    seal every stored payload again with the current key of security.payloadKeys
                    (docs/at-rest.md says how to rotate)
  gerbang help

Environment: GERBANG_CONFIG (configuration file), PORT, REDIS_URL (with redis.cluster: nodes, comma-separated), DATABASE_URL, GERBANG_DATA_DIR, LOG_LEVEL,
             GERBANG_API_KEY (the key gerbang import sends)`;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    strict: false,
    options: {
      posyandu: { type: 'string' },
      url: { type: 'string' },
      source: { type: 'string' },
      chunk: { type: 'string' },
      key: { type: 'string' },
      id: { type: 'string' },
      role: { type: 'string' },
      puskesmas: { type: 'string' },
      regency: { type: 'string' },
      rate: { type: 'string' },
      records: { type: 'string' },
      config: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  const command = positionals[0] ?? 'serve';
  if (command === 'help' || command === '--help') {
    console.log(usage);
    return;
  }
  // Every command reads the tables (mappings/, profiles/) here, once: a broken file stops it now.
  (await import('../roles/tables.js')).loadTables();
  if (command === 'adapter' && positionals[1] === 'test') {
    const { adapterTest } = await import('./adapter-test.js');
    process.exitCode = await adapterTest(positionals[2], positionals[3], typeof values.posyandu === 'string' ? values.posyandu : undefined);
    return;
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  if (command === 'key' && positionals[1] === 'create') {
    const config = str(values.config) ?? process.env.GERBANG_CONFIG;
    const id = str(values.id);
    const role = str(values.role);
    if (!config || !id || !role) {
      console.error('gerbang key create needs --id, --role and a configuration file (--config or GERBANG_CONFIG)');
      process.exit(2);
    }
    const { createKey } = await import('./key-create.js');
    const { key, entry } = createKey({
      config,
      id,
      role,
      ...(str(values.posyandu) ? { posyandu: str(values.posyandu) } : {}),
      ...(str(values.puskesmas) ? { puskesmas: str(values.puskesmas) } : {}),
      ...(str(values.regency) ? { regency: str(values.regency) } : {}),
      ...(str(values.source) ? { source: str(values.source) } : {}),
      ...(str(values.rate) ? { rateLimitPerMinute: Number(str(values.rate)) } : {}),
      ...(str(values.records) ? { recordsPerMinute: Number(str(values.records)) } : {}),
    });
    console.error(`key "${entry.id}" (${entry.role}) added to ${config}. It is shown once; only its hash is stored. Restart the gateway to use it.`);
    console.log(key);
    return;
  }
  if (command === 'import') {
    const file = positionals[1];
    if (!file) {
      console.error(usage);
      process.exit(2);
    }
    const { importFile } = await import('./import.js');
    const apiKey = str(values.key) ?? process.env.GERBANG_API_KEY;
    const result = await importFile(file, {
      url: str(values.url) ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`,
      // With a key the key's app is the source; without one, records are filed under "import".
      ...(str(values.source) || !apiKey ? { source: str(values.source) ?? 'import' } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(str(values.posyandu) ? { posyandu: str(values.posyandu) } : {}),
      chunk: Number(str(values.chunk) ?? 500),
    }).catch((err: unknown) => {
      console.error(`\ngerbang import stopped: ${(err as Error).message}\nRun the same command again to resume.`);
      process.exit(1);
    });
    console.error(`selesai: ${result.accepted} diterima, ${result.duplicate} duplikat, ${result.refused} ditolak${result.refused ? ` (lihat ${file}.refused.ndjson)` : ''}`);
    return;
  }
  if (command === 'ledger' && positionals[1] === 'import') {
    const { ledgerImportCommand } = await import('./ledger-import.js');
    process.exitCode = await ledgerImportCommand(loadConfig(), { force: values.force === true });
    return;
  }
  if (command === 'keys' && positionals[1] === 'rotate-payloads') {
    const { rotatePayloadsCommand } = await import('./rotate-payloads.js');
    process.exitCode = await rotatePayloadsCommand(loadConfig());
    return;
  }
  if (command !== 'serve' && command !== 'worker') {
    console.error(`unknown command: ${command}\n\n${usage}`);
    process.exit(2);
  }
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const running = command === 'worker' ? await (await import('../roles/work.js')).work(config, logger) : await (await import('../roles/serve.js')).serve(config, logger);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'stopping');
      running.close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
    });
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof MappingDataError || err instanceof RedisNotInstalledError || err instanceof PostgresNotInstalledError) {
    console.error(`gerbang: ${err.message}`);
  } else {
    console.error('gerbang: could not start:', err);
  }
  process.exit(1);
});
