import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { importFile } from '../../src/cli/import.js';
import { startStack } from '../helpers/stack.js';
import { validAnthropometry, withChanges } from '../fixtures/records.js';

// `gerbang import`: a backlog file in chunks, interrupted and resumed, nothing sent twice.

const { gw } = await startStack(t);
const dir = mkdtempSync(join(tmpdir(), 'gerbang-import-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('interrupted after the first chunk, resumed, every record once', async (t) => {
  const file = join(dir, 'backlog.ndjson');
  const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify(withChanges({ recordId: `IMP-${i}`, weightKg: i === 7 ? 9800 : 9 + i / 10 })));
  writeFileSync(file, `${lines.join('\n')}\n`);
  const screen: string[] = [];
  const out = new Writable({ write: (c: Buffer, _e, cb) => { screen.push(c.toString()); cb(); } });
  const opts = { url: gw.url, source: 'import-test', chunk: 10, out };

  const first = await importFile(file, { ...opts, stopAfterChunks: 1 });
  t.equal(first.finished, false);
  t.equal(first.linesDone, 10);
  t.ok(existsSync(`${file}.import-state.json`), 'where it got to is saved');

  const second = await importFile(file, opts);
  t.equal(second.finished, true);
  t.same({ accepted: second.accepted, duplicate: second.duplicate, refused: second.refused, linesDone: second.linesDone }, { accepted: 24, duplicate: 0, refused: 1, linesDone: 25 }, 'the first chunk was not sent again');
  const refused = readFileSync(`${file}.refused.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.equal(refused[0].line, 8, 'the refused record is named by its line');
  t.equal(refused[0].outcome.issue[0].details.coding[0].code, 'value.grams-as-kg');
  t.match(screen.join(''), /melanjutkan dari baris 11/);
  t.match(screen.join(''), /\[#{30}\] 25\/25/, 'a progress bar');
});
