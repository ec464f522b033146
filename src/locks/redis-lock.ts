import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

// The one Redis lock of the gateway: the dispatcher's leader lock (sync) and the SATUSEHAT token
// mutex (upstream) both use it. It sits below both layers and imports nothing of the gateway.
// Each of its two scripts touches the one key it declares, so it works on a Redis Cluster too.

/** The scripts (files beside this one), each declaring one key, and the command ioredis defines for it. */
const SCRIPTS = {
  'renew-if-held': 'gerbang_lock_renew_if_held',
  'delete-if-held': 'gerbang_lock_delete_if_held',
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Scripted = Record<string, ((...args: (string | number)[]) => Promise<unknown>) | undefined>;

let sources: Readonly<Record<ScriptName, string>> | undefined;

function scriptSources(): Readonly<Record<ScriptName, string>> {
  sources ??= Object.freeze(Object.fromEntries(Object.keys(SCRIPTS).map((name) => [name, readFileSync(new URL(`./scripts/${name}.lua`, import.meta.url), 'utf8')])) as Record<ScriptName, string>);
  return sources;
}

/**
 * Defines the lock's scripts on a connection, once. Done when a lock is made, not at its first
 * use: a pipeline ioredis has already built for auto-pipelining would not know a later command.
 */
export function defineLockScripts(redis: Redis | Cluster): void {
  const r = redis as unknown as Scripted;
  for (const [name, command] of Object.entries(SCRIPTS) as [ScriptName, string][]) {
    if (typeof r[command] !== 'function') redis.defineCommand(command, { numberOfKeys: 1, lua: scriptSources()[name] });
  }
}

function run(redis: Redis | Cluster, name: ScriptName, key: string, ...args: (string | number)[]): Promise<unknown> {
  const fn = (redis as unknown as Scripted)[SCRIPTS[name]];
  if (!fn) throw new Error(`lock script ${name} is not defined on this connection (defineLockScripts)`);
  return fn.call(redis, key, ...args);
}

/** Deletes `key` only while it still holds `value`; true when it did (defineLockScripts first). */
export async function deleteIfHeld(redis: Redis | Cluster, key: string, value: string): Promise<boolean> {
  return (await run(redis, 'delete-if-held', key, value)) === 1;
}

/**
 * A lock held by a token: taken only when free, renewed and released only by its holder. It lapses
 * by itself after `ttlMs`, so a holder that died holds nobody up for longer.
 */
export class RedisLock {
  constructor(
    private readonly redis: Redis | Cluster,
    readonly key: string,
    private readonly ttlMs: number,
    readonly token: string = randomUUID(),
  ) {
    defineLockScripts(redis);
  }

  /** Takes the lock if nobody holds it. */
  async take(): Promise<boolean> {
    return (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /** Gives the lock a new life if we still hold it. */
  async renew(): Promise<boolean> {
    return (await run(this.redis, 'renew-if-held', this.key, this.token, this.ttlMs)) === 1;
  }

  /** Keeps the lock: renewed if we held it, taken if it was free, false if another holds it. */
  async hold(): Promise<'renewed' | 'taken' | false> {
    if (await this.renew()) return 'renewed';
    return (await this.take()) ? 'taken' : false;
  }

  /** Releases the lock if we still hold it. */
  async release(): Promise<boolean> {
    return (await run(this.redis, 'delete-if-held', this.key, this.token)) === 1;
  }
}
