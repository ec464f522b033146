// The processes a bench run is made of, each started as a deployment would start it: the gateway
// (`node dist/cli/main.js serve` or `worker`, built by `npm run build`), the bare-Fastify and raw-
// undici baselines and the fast upstream. The bench process itself is only the load generator and
// the observer, so a figure never shares an event loop with what drives it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/redis-server.js';
import type { LedgerStore } from './store.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const mainJs = join(root, 'dist/cli/main.js');
const tsxChild = (file: string) => ['--import', 'tsx', join(root, 'bench/lib', file)];

export interface Child {
  child: ChildProcess;
  pid: number;
  /** what it wrote to stderr (and stdout, when not parsed), for the error of a child that died */
  output(): string;
  /** SIGTERM, and the exit */
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

// Every child still running: a phase that fails midway leaves its processes here, for the run's
// end to stop (stopChildren), so none outlives the bench on a shared machine.
const running = new Set<ChildProcess>();
const outputs = new Map<ChildProcess, { what: string; output: () => string }>();

/** The last lines of every child still running, for the error of a failed run (BENCH_LOG_LEVEL=debug says more). */
export function childrenOutput(): string {
  return [...outputs.values()].map((o) => `--- ${o.what}:\n${o.output().slice(-4000)}`).join('\n');
}

// The configuration directories of the phases (their gateways' data directories too), removed
// at the end of the run if a failed phase left them.
const configDirs = new Set<string>();

/** SIGTERM to every child still running, their exits, and the configuration directories left. */
export async function stopChildren(): Promise<void> {
  await Promise.all(
    [...running].map(async (c) => {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const late = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(late);
    }),
  );
  if (running.size === 0) for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
}

// A bench stopped from outside (SIGINT, SIGTERM) stops its children and starts nothing new; the
// phase waiting on them then fails, and the run's own clean-up (its finally) stops the servers it
// started, in order. A second signal does not wait: it stops the servers (atSignal) and exits.
const onSignal: Array<() => Promise<void>> = [];
/** Runs `fn` if the bench is stopped by a second signal, before it exits. */
export function atSignal(fn: () => Promise<void>): void {
  onSignal.push(fn);
}
let stopping = false;
/** Whether the bench is being stopped by a signal: nothing new is started then. */
export const isStopping = (): boolean => stopping;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!stopping) {
      stopping = true;
      console.error(`bench: ${signal}: stopping the processes it started`);
      void stopChildren();
      return;
    }
    void (async () => {
      for (const c of running) c.kill('SIGKILL');
      for (const fn of onSignal) await fn().catch(() => {});
    })().finally(() => process.exit(130));
  });
}

function start(args: string[], env: Record<string, string | undefined>): Child {
  if (stopping) throw new Error('bench: stopping');
  const child = spawn(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  running.add(child);
  outputs.set(child, { what: args.filter((a) => !a.startsWith('-') && a !== 'tsx').map((a) => a.split('/').pop()).join(' '), output: () => out });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      outputs.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    pid: child.pid ?? 0,
    output: () => out,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // a gateway finishes its requests and pushes first; one that hangs there is killed
      const late = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(late);
    },
  };
}

/** Waits for `ready` (a check that answers once the child is ready), failing if the child exits first. */
async function untilReady(c: Child, what: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  let exited = false;
  void c.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${what} exited at start-up:\n${c.output()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      await c.stop();
      throw new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${c.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const answers = (url: string) => async () => (await fetch(url)).ok;

export interface Upstream extends Child {
  url: string;
  stats(): Promise<{ received: number; bytes: number; firstAt: number; lastAt: number }>;
  reset(): Promise<void>;
}

/** The fast FHIR upstream (fast-upstream.ts) as its own process. */
export async function startFastUpstream(): Promise<Upstream> {
  const port = await freePort();
  const c = start([...tsxChild('fast-upstream.ts'), String(port)], {});
  const origin = `http://127.0.0.1:${port}`;
  await untilReady(c, 'the fast upstream', answers(`${origin}/_stats`));
  return {
    ...c,
    url: `${origin}/fhir`,
    stats: async () => (await (await fetch(`${origin}/_stats`)).json()) as Awaited<ReturnType<Upstream['stats']>>,
    reset: async () => void (await fetch(`${origin}/_reset`, { method: 'POST' })).arrayBuffer(),
  };
}

export interface SatusehatDouble extends Child {
  origin: string;
  stats(): Promise<{ received: number; bytes: number; firstAt: number; lastAt: number; lookups: number; tokens: number }>;
  reset(): Promise<void>;
}

/** The fast SATUSEHAT shape (fast-satusehat.ts) as its own process. */
export async function startFastSatusehat(): Promise<SatusehatDouble> {
  const port = await freePort();
  const c = start([...tsxChild('fast-satusehat.ts'), String(port)], {});
  const origin = `http://127.0.0.1:${port}`;
  await untilReady(c, 'the fast SATUSEHAT', answers(`${origin}/_stats`));
  return {
    ...c,
    origin,
    stats: async () => (await (await fetch(`${origin}/_stats`)).json()) as Awaited<ReturnType<SatusehatDouble['stats']>>,
    reset: async () => void (await fetch(`${origin}/_reset`, { method: 'POST' })).arrayBuffer(),
  };
}

/** The bare-Fastify ingest baseline (bare-fastify.ts) as its own process. */
export async function startBareFastify(): Promise<Child & { url: string }> {
  const port = await freePort();
  const c = start([...tsxChild('bare-fastify.ts'), String(port)], {});
  const url = `http://127.0.0.1:${port}`;
  await untilReady(c, 'bare Fastify', answers(`${url}/healthz`));
  return { ...c, url };
}

/** The raw-undici drain baseline (raw-drain.ts): these Bundles POSTed to `url`; seconds for all of them. */
export async function rawDrain(bundles: string[], url: string, concurrency: number, warm: number, authorization?: string): Promise<{ seconds: number; sent: number; non2xx: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-bench-raw-'));
  const file = join(dir, 'bundles.ndjson');
  writeFileSync(file, `${bundles.join('\n')}\n`);
  const c = start([...tsxChild('raw-drain.ts'), file, url, String(concurrency), String(warm), ...(authorization ? [authorization] : [])], {});
  const code = await c.exited;
  rmSync(dir, { recursive: true, force: true });
  const line = c.output().trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`the raw-undici baseline exited with ${code}:\n${c.output()}`);
  return JSON.parse(line) as { seconds: number; sent: number; non2xx: number };
}

/**
 * What a phase's configuration file says beyond the store. The bench writes its own file rather
 * than the test helpers' (test/helpers/gateway.ts): those load tap, which would take over this
 * process (its TAP output and 30 s timeout).
 */
export interface GatewaySettings {
  upstreams: unknown[];
  delivery?: Record<string, unknown>;
  facilities?: unknown;
  server?: Record<string, unknown>;
}

// Retries and locks as the integration tests have them (the bench's upstreams do not fail, so
// these only matter when something goes wrong), and a circuit that rests for a second.
const benchDelivery = { baseDelayMs: 100, maxDelayMs: 1_000, lockDurationMs: 2_000, concurrency: 4 };
const benchCircuit = { failureThreshold: 5, failureRate: 0.5, windowSize: 20, openSeconds: 1, maxOpenSeconds: 2 };

export interface GatewayFiles {
  path: string;
  dir: string;
  env: Record<string, string | undefined>;
  cleanup(): void;
}

/**
 * A configuration file for the gateway processes of one phase, in a directory of its own (also
 * their data directory), on the phase's store (its `ledger.store`), and the environment every
 * process of it gets (GERBANG_CONFIG, REDIS_URL, DATABASE_URL). Without facilities, the demo
 * registry the build ships.
 */
export async function gatewayConfig(store: LedgerStore, opts: GatewaySettings): Promise<GatewayFiles> {
  const { loadConfig } = (await import(new URL('../../dist/config/load.js', import.meta.url).href)) as typeof import('../../src/config/load.js');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-bench-'));
  const file = {
    dataDir: dir,
    server: { port, ...opts.server },
    upstreams: opts.upstreams.map((u) => ({ circuit: benchCircuit, ...(u as object) })),
    facilities: opts.facilities ?? loadConfig({ GERBANG_DATA_DIR: dir }).facilities,
    delivery: { ...benchDelivery, ...opts.delivery },
    ...store.config,
  };
  const path = join(dir, 'gerbang.json');
  writeFileSync(path, JSON.stringify(file, null, 2));
  configDirs.add(dir);
  return {
    path,
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      configDirs.delete(dir);
    },
    env: { GERBANG_CONFIG: path, REDIS_URL: store.redisUrl, ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}), HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' },
  };
}

export interface Gateway extends Child {
  url: string;
  /** with BENCH_PROFILE=1: where the process writes its CPU profile when it exits */
  profileDir?: string;
}

/** BENCH_PROFILE=1: the gateway process runs with --cpu-prof into a temporary directory. */
function profileArgs(): { args: string[]; dir?: string } {
  if (process.env.BENCH_PROFILE !== '1') return { args: [] };
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-bench-prof-'));
  return { args: ['--cpu-prof', `--cpu-prof-dir=${dir}`], dir };
}

/** `gerbang serve` as its own process, ready when it answers /healthz. */
export async function startGateway(files: GatewayFiles, opts: { profile?: boolean } = {}): Promise<Gateway> {
  const prof = opts.profile ? profileArgs() : { args: [] };
  const c = start([...prof.args, mainJs, 'serve'], files.env);
  const url = `http://127.0.0.1:${files.env.PORT}`;
  await untilReady(c, 'gerbang serve', answers(`${url}/healthz`));
  return { ...c, url, ...(prof.dir ? { profileDir: prof.dir } : {}) };
}

/** `gerbang worker` as its own process; it has no port, so it is taken as started once spawned. */
export function startWorker(files: GatewayFiles, opts: { profile?: boolean } = {}): Gateway {
  const prof = opts.profile ? profileArgs() : { args: [] };
  const c = start([...prof.args, mainJs, 'worker'], files.env);
  return { ...c, url: '', ...(prof.dir ? { profileDir: prof.dir } : {}) };
}

/** Peak resident set of a process so far (Linux VmHWM), in MB; 0 once it is gone. */
export function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The .cpuprofile files a process wrote into `dir`. */
export function profilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f));
}
