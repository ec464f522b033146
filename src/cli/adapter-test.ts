import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { GerbangError } from '../errors/gerbang-error.js';
import { message } from '../errors/messages.js';
import { adaptRecord, withSources } from '../ingest/adapt-record.js';
import { prepareRecord } from '../ingest/prepare-record.js';
import { adapters } from '../records/adapters/adapter.js';

/**
 * `gerbang adapter test <adapter> <file> [--posyandu CODE]`: what Gerbang makes of an app's native
 * record (one JSON object, a JSON array, or NDJSON), without a running gateway: the canonical
 * records and their provenance, or every problem, in words. Exit 1 when a record is refused.
 */
export function adapterTest(name: string | undefined, file: string | undefined, posyandu: string | undefined): number {
  if (!name || !file) {
    console.error('usage: gerbang adapter test <adapter> <file> [--posyandu CODE]');
    console.error(`adapters: ${[...adapters.keys()].join(', ')}`);
    return 2;
  }
  if (!adapters.has(name)) {
    console.error(`no adapter "${name}"; there are: ${[...adapters.keys()].join(', ')}`);
    return 2;
  }
  const config = loadConfig();
  const text = readFileSync(file, 'utf8').trim();
  const natives = readNatives(text);
  const code = posyandu ?? Object.keys(config.facilities.posyandu)[0];
  let refused = 0;
  for (const [i, native] of natives.entries()) {
    try {
      for (const a of adaptRecord(native, name, config.facilities, new Date(), code)) {
        const p = prepareRecord(a.record, name, config.facilities, new Date());
        if (!p.ok) throw new GerbangError('record.invalid', withSources(p.issues, a));
        console.log(JSON.stringify({ item: i, record: a.record, provenance: a.provenance, warnings: p.prepared.warnings.map((w) => message(w.key, 'id', { field: w.path, ...w.params })) }, null, 2));
      }
    } catch (err) {
      if (!(err instanceof GerbangError)) throw err;
      refused += 1;
      console.log(JSON.stringify({ item: i, refused: err.issues.map((iss) => ({ field: iss.path, source: iss.source, problem: message(iss.key, 'id', { ...(iss.path ? { field: iss.path } : {}), ...iss.params }) })) }, null, 2));
    }
  }
  return refused > 0 ? 1 : 0;
}

/** One JSON object (pretty-printed or not), a JSON array, or NDJSON. */
function readNatives(text: string): unknown[] {
  try {
    const whole = JSON.parse(text) as unknown;
    return Array.isArray(whole) ? whole : [whole];
  } catch {
    return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as unknown);
  }
}
