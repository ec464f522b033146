import { mappingsDir, profilesDir } from '../config/paths.js';
import { deepFreeze, readMapping, type Fail } from './read-table.js';

// The tables under mappings/ and profiles/: each is defined (its file and its check) by the code
// that uses it, but none is read when its module is imported. The process reads them all at
// start-up, in one call (loadDefinedTables, from src/roles/tables.ts), so that a broken file stops
// the process before it serves anything, and every table is frozen before the first record sees it.

/** Where the tables are read from: the project's folders, or a copy (a test of a broken file). */
export interface TableDirs {
  mappings: string;
  profiles: string;
}

interface Definition {
  name: string;
  read: (dirs: TableDirs) => unknown;
  frozen: boolean;
}

export interface TableOptions {
  /**
   * false for a set that is read again while the process runs by design (the adapters: an
   * operator's $reload), and so cannot be frozen; it is still first read here, at start-up.
   */
  frozen?: boolean;
}

const definitions: Definition[] = [];
let loaded: Map<string, unknown> | undefined;

export const projectTableDirs: TableDirs = { mappings: mappingsDir, profiles: profilesDir };

/**
 * Defines a table read at start-up by `read`; the result reads the loaded, frozen table. Calling it
 * before loadDefinedTables() is a bug in the composition (or a test without its set-up), and says so.
 */
export function defineTable<T>(name: string, read: (dirs: TableDirs) => T, options: TableOptions = {}): () => T {
  if (definitions.some((d) => d.name === name)) throw new Error(`table ${name} is defined twice`);
  definitions.push({ name, read, frozen: options.frozen ?? true });
  return () => {
    if (!loaded) throw new Error(`table ${name} used before the tables were loaded (loadTables() at start-up, or test/helpers/load-tables.ts in a test)`);
    if (!loaded.has(name)) throw new Error(`table ${name} was defined after the tables were loaded: import its module from src/roles/tables.ts`);
    return loaded.get(name) as T;
  };
}

/** Reads and checks every defined table from `dirs`, frozen; a broken file throws MappingDataError naming it. */
export function readDefinedTables(dirs: TableDirs): Map<string, unknown> {
  return new Map(definitions.map((d) => [d.name, d.frozen ? deepFreeze(d.read(dirs)) : d.read(dirs)]));
}

/** Reads every defined table once, from the project's folders; later calls keep what was read. */
export function loadDefinedTables(): void {
  loaded ??= readDefinedTables(projectTableDirs);
}

/** The names of the defined tables (what a start-up reads). */
export function definedTableNames(): string[] {
  return definitions.map((d) => d.name);
}

/** A JSON table in mappings/, checked by `check` (see readMapping). */
export function defineMapping<T>(file: string, check: (data: T, fail: Fail) => void): () => T {
  return defineTable(file, (dirs) => readMapping(file, check, dirs.mappings));
}
