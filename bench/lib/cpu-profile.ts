// BENCH_PROFILE=1: where a gateway process's time went, from the .cpuprofile it wrote at exit
// (node --cpu-prof): the functions with the most self time, and the share of GC and idle.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface SelfTime {
  fn: string;
  percent: number;
}

/** Now on the clock V8 stamps profile samples with (CLOCK_MONOTONIC, µs), which process.hrtime reads too. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * The `top` functions by self time (ticks), as "name (file:line)"; idle and program time are left
 * out of the total. With `window` (monotonicMicros() of this process around the load), only the
 * samples taken then: start-up and shutdown are not what the figure measures.
 */
export function topSelfTime(file: string, top = 15, window?: { from: number; to: number }): { busyPercentOfSamples: number; samples: number; functions: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; startTime: number; timeDeltas: number[] };
  const hits = new Map<number, number>();
  let at = profile.startTime;
  let taken = 0;
  profile.samples.forEach((s, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window.from || at > window.to)) return;
    taken += 1;
    hits.set(s, (hits.get(s) ?? 0) + 1);
  });
  const bySelf = new Map<string, number>();
  let busy = 0;
  for (const node of profile.nodes) {
    const n = hits.get(node.id) ?? 0;
    if (n === 0) continue;
    const f = node.callFrame;
    if (f.functionName === '(idle)' || f.functionName === '(program)') continue;
    busy += n;
    const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const name = `${f.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
    bySelf.set(name, (bySelf.get(name) ?? 0) + n);
  }
  const functions = [...bySelf.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, n]) => ({ fn, percent: (n / Math.max(1, busy)) * 100 }));
  return { busyPercentOfSamples: (busy / Math.max(1, taken)) * 100, samples: taken, functions };
}
