import { existsSync, readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { mappingsDir } from '../../config/paths.js';
import type { Config } from '../../config/types.js';
import { MappingDataError } from '../../tables/mapping-data-error.js';
import { defineTable } from '../../tables/registry.js';
import { checkAdapterText, checkCommonText, type FileProblem, type ValueMaps } from './adapter-file.js';
import type { Adapter } from './adapter-format.js';

// The adapters a process serves: the shipped ones (mappings/adapters) and an operator's folder
// (config `adapters.directory`), read again on demand (POST /v1/admin/adapters/$reload, or a
// watched folder) without a restart. A broken file is refused with its place while every other
// adapter keeps working; an adapter whose file broke keeps its last good version until it is fixed.

export const shippedAdaptersDir = join(mappingsDir, 'adapters');

export interface LoadedAdapter {
  name: string;
  file: string;
}

export interface ReloadReport {
  loaded: LoadedAdapter[];
  /** every problem of the files that could not be loaded */
  refused: FileProblem[];
  /** adapters whose file is broken now, still served as last loaded */
  kept: LoadedAdapter[];
  /** adapters no longer served: their file is gone */
  removed: string[];
}

interface Entry {
  adapter: Adapter;
  file: string;
}

export class AdapterRegistry {
  private entries = new Map<string, Entry>();
  private commons = new Map<string, ValueMaps>();

  /** Later directories add adapters, and replace a same-named adapter of an earlier one. */
  constructor(readonly directories: readonly string[]) {}

  get(name: string): Adapter | undefined {
    return this.entries.get(name)?.adapter;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Reads every adapter file again; what cannot be read is refused, the rest replaces what was served. */
  reload(): ReloadReport {
    const refused: FileProblem[] = [];
    const next = new Map<string, Entry>();
    const kept: LoadedAdapter[] = [];
    let common: ValueMaps = {};
    const previousByFile = new Map([...this.entries.values()].map((e) => [e.file, e]));
    for (const dir of this.directories) {
      if (!existsSync(dir)) {
        refused.push({ file: dir, pointer: '', line: 1, column: 1, message: 'no such directory' });
        continue;
      }
      common = { ...common, ...this.readCommon(join(dir, '_common.json'), refused) };
      const namesHere = new Map<string, string>();
      for (const name of readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('_')).sort()) {
        const file = join(dir, name);
        const checked = checkAdapterText(readFileSync(file, 'utf8'), file, common);
        const clash = checked.ok ? namesHere.get(checked.value.name) : undefined;
        if (checked.ok && !clash) {
          namesHere.set(checked.value.name, file);
          next.set(checked.value.name, { adapter: checked.value, file });
          continue;
        }
        refused.push(...(checked.ok ? [{ file, pointer: '/name', line: 1, column: 1, message: `"${checked.value.name}" is already the name of ${clash}` }] : checked.problems));
        const before = previousByFile.get(file);
        if (before && !next.has(before.adapter.name)) {
          next.set(before.adapter.name, before);
          kept.push({ name: before.adapter.name, file });
        }
      }
    }
    const removed = [...this.entries.keys()].filter((n) => !next.has(n));
    this.entries = next;
    const loaded = [...next.entries()].filter(([n]) => !kept.some((k) => k.name === n)).map(([name, e]) => ({ name, file: e.file }));
    return { loaded: loaded.sort((a, b) => a.name.localeCompare(b.name)), refused, kept, removed };
  }

  /**
   * One more file, outside the folders (`gerbang adapter test ./my-app.json`): checked as a reload
   * checks it, with the folders' shared value maps; it replaces an adapter of the same name.
   */
  addFile(file: string): { ok: true; name: string } | { ok: false; problems: FileProblem[] } {
    const refused: FileProblem[] = [];
    const common = this.directories.reduce<ValueMaps>((maps, dir) => ({ ...maps, ...this.readCommon(join(dir, '_common.json'), refused) }), {});
    const checked = checkAdapterText(readFileSync(file, 'utf8'), file, common);
    if (!checked.ok) return checked;
    this.entries.set(checked.value.name, { adapter: checked.value, file });
    return { ok: true, name: checked.value.name };
  }

  /** Reloads when a directory's files change (a burst of writes, one reload); returns the stop. */
  watch(onReload: (report: ReloadReport) => void, debounceMs = 300): () => void {
    let timer: NodeJS.Timeout | undefined;
    const watchers: FSWatcher[] = this.directories.filter((d) => existsSync(d)).map((d) =>
      watch(d, () => {
        clearTimeout(timer);
        timer = setTimeout(() => onReload(this.reload()), debounceMs);
      }),
    );
    return () => {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    };
  }

  private readCommon(file: string, refused: FileProblem[]): ValueMaps {
    if (!existsSync(file)) return {};
    const checked = checkCommonText(readFileSync(file, 'utf8'), file);
    if (checked.ok) {
      this.commons.set(file, checked.value);
      return checked.value;
    }
    refused.push(...checked.problems);
    return this.commons.get(file) ?? {};
  }
}

/** The adapters a configuration serves: the shipped ones and the site's folder, if it has one. */
export function registryFor(config: Pick<Config, 'adapters'>): AdapterRegistry {
  return new AdapterRegistry([shippedAdaptersDir, ...(config.adapters.directory ? [config.adapters.directory] : [])]);
}

/**
 * The registry of a process that is not given one (the CLI, tests): the shipped adapters, first read
 * at start-up (src/tables/registry.ts); not frozen, since $reload reads them again.
 */
export const shippedAdapters = defineTable(
  'adapters/',
  (dirs) => {
    const registry = new AdapterRegistry([join(dirs.mappings, 'adapters')]);
    const report = registry.reload();
    // The shipped files are part of the release: one that does not load is a broken release.
    if (report.refused.length > 0) {
      const p = report.refused[0]!;
      throw new MappingDataError(`${p.file}: ${p.pointer || '/'} (line ${p.line}): ${p.message}`);
    }
    return registry;
  },
  { frozen: false },
);
