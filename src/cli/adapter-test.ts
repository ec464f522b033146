import { existsSync, readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { issueText } from '../errors/messages.js';
import { prepareItem } from '../ingest/prepare-item.js';
import { registryFor } from '../records/adapters/registry.js';

/**
 * `gerbang adapter test <adapter | adapter-file.json> <file> [--posyandu CODE]`: what Gerbang makes
 * of an app's native record (one JSON object, a JSON array, or NDJSON), without a running gateway:
 * per canonical record the row yields, the record and its provenance, or every problem, in words.
 * The adapters are the configuration's (shipped and `adapters.directory`), as the gateway serves
 * them; an adapter file not installed yet can be named by its path. The rows are judged by
 * prepareItem, as the gateway judges them (without the subject's stored history). Exit 1 when a
 * record is refused, 2 when the adapter cannot be used.
 */
export async function adapterTest(name: string | undefined, file: string | undefined, posyandu: string | undefined): Promise<number> {
  const config = loadConfig();
  const adapters = registryFor(config);
  const report = adapters.reload();
  for (const p of report.refused) console.error(`${p.file}:${p.line}:${p.column}: ${p.pointer || '/'}: ${p.message}`);
  if (!name || !file) {
    console.error('usage: gerbang adapter test <adapter | adapter-file.json> <file> [--posyandu CODE]');
    console.error(`adapters: ${adapters.names().join(', ')}`);
    return 2;
  }
  let adapterName = name;
  if (name.endsWith('.json') && existsSync(name)) {
    const added = adapters.addFile(name);
    if (!added.ok) {
      for (const p of added.problems) console.error(`${p.file}:${p.line}:${p.column}: ${p.pointer || '/'}: ${p.message}`);
      return 2;
    }
    adapterName = added.name;
  } else if (!adapters.has(name)) {
    console.error(`no adapter "${name}"; there are: ${adapters.names().join(', ')}`);
    return 2;
  }
  const text = readFileSync(file, 'utf8').trim();
  const natives = readNatives(text);
  const code = posyandu ?? Object.keys(config.facilities.posyandu)[0];
  let refused = 0;
  for (const [i, native] of natives.entries()) {
    for (const part of await prepareItem(native, adapterName, { facilities: config.facilities, adapters, now: new Date(), ...(code ? { posyandu: code } : {}) })) {
      const kind = part.kind === undefined ? {} : { kind: part.kind };
      if (!part.result.ok) {
        refused += 1;
        const problems = part.result.issues.map((iss) => ({ field: iss.path, source: iss.source, problem: issueText(iss, 'id') }));
        console.log(JSON.stringify({ item: i, ...kind, refused: problems, ...(part.adapted ? { record: part.adapted.record, provenance: part.adapted.provenance } : {}) }, null, 2));
        continue;
      }
      const { warnings } = part.result.prepared;
      console.log(JSON.stringify({ item: i, ...kind, record: part.body, provenance: part.adapted?.provenance, warnings: warnings.map((w) => issueText(w, 'id')) }, null, 2));
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
