import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { createLogger } from '../../src/log/logger.js';
import type { Running } from '../../src/roles/compose.js';
import { serve } from '../../src/roles/serve.js';
import type { LedgerStoreKind } from '../../src/config/types.js';
import { freshLedgerDatabase, testLedgerStore } from './ledger-database.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface GatewayOptions {
  redisUrl: string;
  /** where the ledger is kept; default: testLedgerStore (GERBANG_TEST_LEDGER), else the configuration's default */
  ledgerStore?: LedgerStoreKind;
  /**
   * the ledger's PostgreSQL (database.url in the file). startGateway with the store `postgres` and
   * no URL: a fresh database on this test file's server (ledger-database.ts).
   */
  databaseUrl?: string;
  /** further database settings (pool bounds) */
  database?: Record<string, unknown>;
  /** upstreams as in the configuration file; default: none but an outbox */
  upstreams?: unknown[];
  delivery?: Record<string, unknown>;
  server?: Record<string, unknown>;
  apiKeys?: unknown[];
  retention?: Record<string, unknown>;
  facilities?: unknown;
  store?: Record<string, unknown>;
  security?: Record<string, unknown>;
  adapters?: Record<string, unknown>;
  redis?: Record<string, unknown>;
}

/**
 * The test FHIR engine as an upstream. Medplum refuses conditional transactions of more than 8
 * entries (a limit of that server, like any server's), so the gateway sends it Bundles in parts.
 */
export function sandboxUpstream(baseUrl: string): Record<string, unknown> {
  return { kind: 'fhir', baseUrl, maxEntriesPerTransaction: 8 };
}

/** Fast retries and a short lock so that fault tests finish in seconds. */
export const testDelivery = { baseDelayMs: 100, maxDelayMs: 1_000, lockDurationMs: 2_000, concurrency: 4 };

/** A circuit that opens as in production but rests for a second, so outages in tests end quickly. */
export const testCircuit = { failureThreshold: 5, failureRate: 0.5, windowSize: 20, openSeconds: 1, maxOpenSeconds: 2 };

/** A configuration file for a test, in its own directory (removed by the returned cleanup). */
export function writeTestConfig(opts: GatewayOptions): { path: string; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-test-'));
  const demo = loadConfig({ GERBANG_DATA_DIR: dir });
  const file = {
    dataDir: dir,
    server: { port: 0, ...opts.server },
    upstreams: (opts.upstreams ?? [{ name: 'outbox', kind: 'outbox', directory: join(dir, 'outbox') }]).map((u) => ({ circuit: testCircuit, ...(u as object) })),
    facilities: opts.facilities ?? demo.facilities,
    delivery: { ...testDelivery, ...opts.delivery },
    ...(opts.apiKeys ? { apiKeys: opts.apiKeys } : {}),
    ...(opts.retention ? { retention: opts.retention } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.security ? { security: opts.security } : {}),
    ...(opts.adapters ? { adapters: opts.adapters } : {}),
    ...(opts.redis ? { redis: opts.redis } : {}),
    ...((opts.ledgerStore ?? testLedgerStore) ? { ledger: { store: opts.ledgerStore ?? testLedgerStore } } : {}),
    ...(opts.databaseUrl || opts.database ? { database: { ...opts.database, ...(opts.databaseUrl ? { url: opts.databaseUrl } : {}) } } : {}),
  };
  const path = join(dir, 'gerbang.json');
  writeFileSync(path, JSON.stringify(file, null, 2));
  return { path, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The options with a fresh database of this test file's PostgreSQL when the ledger is kept there
 * and no URL is given: `writeTestConfig(await withLedgerDatabase(opts))` for a spawned gateway
 * (without it, a spawned gateway on `postgres` starts a private server in its data directory).
 */
export async function withLedgerDatabase(opts: GatewayOptions): Promise<GatewayOptions> {
  const postgres = (opts.ledgerStore ?? testLedgerStore ?? 'postgres') === 'postgres';
  return postgres && !opts.databaseUrl ? { ...opts, databaseUrl: await freshLedgerDatabase() } : opts;
}

export interface InProcessGateway extends Running {
  url: string;
  config: Config;
  /** every log line the gateway wrote, as text */
  logs: string[];
}

/** A gateway logger that writes into memory, so a test can read every line it wrote. */
export function memoryLogger(level: string): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

/** The gateway in this process (HTTP + worker), logging into memory so tests can read the lines. */
export async function startGateway(opts: GatewayOptions): Promise<InProcessGateway> {
  const cfgFile = writeTestConfig(await withLedgerDatabase(opts));
  const config = loadConfig({ GERBANG_CONFIG: cfgFile.path, REDIS_URL: opts.redisUrl, HOST: '127.0.0.1' });
  const { logger, lines: logs } = memoryLogger('debug');
  const running = await serve(config, logger);
  const close = async () => {
    await running.close();
    cfgFile.cleanup();
  };
  return { ...running, url: running.url ?? '', config, logs, close };
}

export interface ChildGateway {
  url: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The gateway as its own process (`gerbang serve` from the sources), for crash and signal tests. */
export async function spawnGateway(env: Record<string, string | undefined>, args: string[] = ['serve']): Promise<ChildGateway> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // `serve` is ready when it listens; `worker` when its start-up line is written.
  const ready = args[0] === 'worker' ? /"mode":"worker"()/ : /Server listening at (http:\/\/[\d.:]+)/;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${out}`)), 30_000);
    const look = () => {
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] ?? '');
      }
    };
    child.stdout?.on('data', look);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`gateway exited at start-up:\n${out}`));
    });
  });
  return { url, child, output: () => out, exited };
}

/** A `gerbang` command from the sources, run to its end: its exit code and what it printed. */
export function runGerbang(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}
