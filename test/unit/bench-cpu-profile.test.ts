import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topSelfTime } from '../../bench/lib/cpu-profile.js';

// BENCH_PROFILE=1's summary of a .cpuprofile: self time per function, idle left out, and only the
// samples inside the window the bench measured.

const dir = mkdtempSync(join(tmpdir(), 'gerbang-prof-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, scriptId: '0', columnNumber: 0 });
// Node ids: 1 root, 2 (idle), 3 mapRecord, 4 gzip. Samples every 1,000 µs from 10,000:
// three mapRecord before the window, then in it two gzip, one mapRecord and one idle.
const profile = {
  nodes: [
    { id: 1, callFrame: frame('(root)') },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('mapRecord', 'file:///srv/gerbang/dist/fhir/map-record.js', 9) },
    { id: 4, callFrame: frame('processChunkSync', 'node:zlib', 392) },
  ],
  startTime: 10_000,
  samples: [3, 3, 3, 4, 4, 3, 2],
  timeDeltas: [1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000],
};
const file = join(dir, 'p.cpuprofile');
writeFileSync(file, JSON.stringify(profile));

t.test('the whole profile: self time per function, idle not counted as busy', async (t) => {
  const top = topSelfTime(file);
  t.equal(top.samples, 7);
  t.same(top.functions.map((f) => f.fn), ['mapRecord (dist/fhir/map-record.js:10)', 'processChunkSync (node:zlib:393)']);
  t.equal(Math.round(top.functions[0]!.percent), 67, 'four of the six busy samples');
  t.equal(Math.round(top.busyPercentOfSamples), 86);
});

t.test('a window keeps only the samples taken in it', async (t) => {
  const top = topSelfTime(file, 15, { from: 13_500, to: 17_000 });
  t.equal(top.samples, 4);
  t.same(top.functions.map((f) => f.fn), ['processChunkSync (node:zlib:393)', 'mapRecord (dist/fhir/map-record.js:10)']);
  t.equal(Math.round(top.functions[0]!.percent), 67, 'two of the three busy samples');
});
