import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';
import { DAY_TTL_SECONDS, LATENCY_BUCKETS } from '../aggregates.js';
import { CIRCUIT_FIELDS, KEY_LAYOUTS, PAYLOAD_FIELDS, PLACE_SEPARATOR, RECORD_FIELDS, SEALED_WORDS_PROPERTY, UPSTREAM_FIELD_PREFIX, layoutParts } from './keys.js';

// The Lua scripts, read from scripts/*.lua once (the first store built at start-up reads them all)
// and sent to Redis by ioredis as EVALSHA. Each script gets a preamble generated from keys.ts:
// K.<key>(P, …) builds a key under the prefix P (which the caller passes in ARGV); F, UF, PAYLOAD,
// SEALED_WORDS and CF name the record and circuit fields; so no name is written in Lua a second time.

interface Spec {
  /** how many, at least and at most, or undefined: one per item */
  keys: number | readonly [number, number] | undefined;
  uses?: readonly string[];
}

/** Every script, the keys it declares (undefined: one per item, see its file), and the libraries put before it. */
const SCRIPTS = {
  accept: { keys: 5, uses: ['transition', 'carry-over'] },
  'set-state': { keys: [1, 2], uses: ['transition'] },
  'begin-delivery': { keys: 1 },
  'renew-sending': { keys: 1 },
  requeue: { keys: 2, uses: ['transition'] },
  'drop-payload': { keys: 2, uses: ['drop-words'] },
  'drop-unsynced': { keys: 1, uses: ['drop-words'] },
  'queue-ranks': { keys: undefined },
  'circuit-admit': { keys: 1 },
  'circuit-record': { keys: 1 },
  'history-read': { keys: 2 },
  'history-remember': { keys: 1 },
  'window-count': { keys: 1 },
  'replace-if-unchanged': { keys: 1 },
  'budget-take': { keys: 1 },
  'budget-give': { keys: 1 },
} as const satisfies Record<string, Spec>;

export type ScriptName = keyof typeof SCRIPTS;

export const SCRIPT_NAMES = Object.keys(SCRIPTS) as ScriptName[];

const scriptsDir = fileURLToPath(new URL('./scripts/', import.meta.url));

let loaded: Readonly<Record<ScriptName, string>> | undefined;

/** The scripts' full text (preamble, libraries, body), read once. */
export function scriptSources(): Readonly<Record<ScriptName, string>> {
  if (loaded) return loaded;
  const read = (name: string) => readFileSync(join(scriptsDir, `${name}.lua`), 'utf8');
  const head = preamble();
  loaded = Object.freeze(
    Object.fromEntries(
      SCRIPT_NAMES.map((name) => {
        const s: Spec = SCRIPTS[name];
        return [name, [head, ...(s.uses ?? []).map(read), read(name)].join('\n')];
      }),
    ) as Record<ScriptName, string>,
  );
  return loaded;
}

function luaString(text: string): string {
  // Redis runs Lua 5.1: only the escapes both JSON and Lua 5.1 read alike.
  if (/[^\x20-\x7e\n]/.test(text)) throw new Error(`a key or field name the Lua preamble cannot spell: ${JSON.stringify(text)}`);
  return JSON.stringify(text);
}

function luaTable(fields: Record<string, string>): string {
  return `{${Object.entries(fields).map(([k, v]) => `${k} = ${luaString(v)}`).join(', ')}}`;
}

/** The names of keys.ts, and the constants of aggregates.ts, in Lua. */
export function preamble(): string {
  const lines = ['local K = {}'];
  for (const [name, layout] of Object.entries(KEY_LAYOUTS)) {
    const parts = layoutParts(layout);
    const args = parts.flatMap((p) => ('arg' in p ? [p.arg] : []));
    const body = parts.map((p) => ('text' in p ? luaString(p.text) : p.arg));
    lines.push(`K.${name} = function(${['P', ...args].join(', ')}) return ${['P', ...body].join(' .. ')} end`);
  }
  lines.push(`local F = ${luaTable(RECORD_FIELDS)}`);
  lines.push(`local PAYLOAD = {${PAYLOAD_FIELDS.map(luaString).join(', ')}}`);
  lines.push(`local UF = ${luaString(UPSTREAM_FIELD_PREFIX)}`);
  lines.push(`local SEALED_WORDS = ${luaString(SEALED_WORDS_PROPERTY)}`);
  lines.push(`local CF = ${luaTable(CIRCUIT_FIELDS)}`);
  lines.push(`local SEP = ${luaString(PLACE_SEPARATOR)}`);
  lines.push(`local LATENCY_BUCKETS = {${LATENCY_BUCKETS.filter(Number.isFinite).join(', ')}}`);
  lines.push(`local DAY_TTL_SECONDS = ${DAY_TTL_SECONDS}`);
  return lines.join('\n');
}

const commandOf = (name: ScriptName) => `gerbang_${name.replace(/-/g, '_')}`;

type Arg = string | number | Buffer;
type Scripted = Record<string, ((...args: Arg[]) => Promise<unknown>) | undefined>;

/**
 * Defines every script on a connection, once (each store part calls it when it is built, at
 * start-up). ioredis then sends EVALSHA, and the script itself when Redis does not have it yet
 * (after a restart). Not later, at the first call: a pipeline ioredis already made for
 * auto-pipelining would not know the command.
 */
export function defineScripts(redis: Redis | Cluster): void {
  const r = redis as unknown as Scripted;
  const sources = scriptSources();
  for (const name of SCRIPT_NAMES) {
    const command = commandOf(name);
    if (typeof r[command] !== 'function') redis.defineCommand(command, { lua: sources[name] });
  }
}

/** Runs a script defined on the connection, with the keys it declares (KEYS) and its ARGV. */
export function runScript<T>(redis: Redis | Cluster, name: ScriptName, keys: readonly string[], args: readonly Arg[], opts: { buffers?: boolean } = {}): Promise<T> {
  const declared = (SCRIPTS[name] as Spec).keys;
  const [least, most] = typeof declared === 'number' ? [declared, declared] : (declared ?? [0, Infinity]);
  if (keys.length < least || keys.length > most) throw new Error(`script ${name} declares ${String(declared)} keys, given ${keys.length}`);
  const command = commandOf(name);
  const fn = (redis as unknown as Scripted)[opts.buffers ? `${command}Buffer` : command];
  if (!fn) throw new Error(`script ${name} is not defined on this connection (defineScripts)`);
  return fn.call(redis, keys.length, ...keys, ...args) as Promise<T>;
}
