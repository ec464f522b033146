import { createReadStream, existsSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { request } from 'undici';

// `gerbang import <file.ndjson>`: a backlog file sent to $batch in chunks, with a progress bar.
// Where it got to is written next to the file after every chunk, so an interrupted import (a
// dropped connection, Ctrl-C) resumes where it stopped; the gateway answers records it already
// has as duplicates, so a chunk sent twice is harmless.

export interface ImportOptions {
  url: string;
  /** the app whose records these are; absent: the API key's app */
  source?: string;
  /** the API key (`Authorization: Bearer`), when the gateway has keys */
  apiKey?: string;
  posyandu?: string;
  chunk: number;
  /** tests stop after this many chunks, as an interruption would */
  stopAfterChunks?: number;
  /** how the import waits out the gateway's records budget (tests end the window instead of waiting it out) */
  wait?: (ms: number) => Promise<void>;
  out?: NodeJS.WritableStream;
}

interface ImportState {
  file: string;
  linesDone: number;
  accepted: number;
  duplicate: number;
  refused: number;
}

export async function importFile(file: string, opts: ImportOptions): Promise<ImportState & { finished: boolean }> {
  const stateFile = `${file}.import-state.json`;
  const refusedFile = `${file}.refused.ndjson`;
  const state: ImportState = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, 'utf8')) as ImportState)
    : { file, linesDone: 0, accepted: 0, duplicate: 0, refused: 0 };
  const total = await countLines(file);
  const out = opts.out ?? process.stderr;
  const progress = () => out.write(`\r${bar(state.linesDone, total)} ${state.linesDone}/${total}  diterima ${state.accepted}  duplikat ${state.duplicate}  ditolak ${state.refused}   `);
  if (state.linesDone > 0) out.write(`melanjutkan dari baris ${state.linesDone + 1}\n`);
  progress();

  let lineNo = 0;
  let chunk: string[] = [];
  let chunks = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const results = await sendWithinBudget(chunk, opts, out);
    for (const r of results) {
      if (r.result === 'accepted') state.accepted += 1;
      else if (r.result === 'duplicate') state.duplicate += 1;
      else {
        state.refused += 1;
        appendFileSync(refusedFile, `${JSON.stringify({ line: state.linesDone + r.index + 1, outcome: r.outcome })}\n`);
      }
    }
    state.linesDone += chunk.length;
    writeAtomically(stateFile, state);
    chunk = [];
    chunks += 1;
    progress();
  };
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    lineNo += 1;
    if (lineNo <= state.linesDone) continue;
    chunk.push(line.trim() === '' ? '{}' : line);
    if (chunk.length >= opts.chunk) {
      await flush();
      if (opts.stopAfterChunks !== undefined && chunks >= opts.stopAfterChunks) {
        lines.close();
        out.write('\n');
        return { ...state, finished: false };
      }
    }
  }
  await flush();
  out.write('\n');
  return { ...state, finished: true };
}

type BatchResult = { index: number; result: string; code?: string; retryAfterSeconds?: number; outcome?: unknown };

const THROTTLED = 'request.too-many-records';

/**
 * A chunk, sent again until no record of it is held back by the key's records-per-minute budget:
 * a 429 for the whole chunk, or the tail of it the gateway refused with request.too-many-records,
 * goes again after the seconds the gateway named. Every other answer is the record's own.
 */
async function sendWithinBudget(lines: string[], opts: ImportOptions, out: NodeJS.WritableStream): Promise<BatchResult[]> {
  const wait = opts.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const results: BatchResult[] = [];
  let pending = lines.map((_, i) => i);
  while (pending.length > 0) {
    const answer = await sendChunk(pending.map((i) => lines[i]!), opts);
    const again: number[] = [];
    let seconds = answer.retryAfterSeconds ?? 0;
    for (const r of answer.results) {
      const at = pending[r.index]!;
      if (r.result === 'refused' && r.code === THROTTLED) {
        again.push(at);
        seconds = Math.max(seconds, r.retryAfterSeconds ?? 1);
      } else results.push({ ...r, index: at });
    }
    pending = answer.retryAfterSeconds !== undefined ? pending : again;
    if (pending.length === 0) break;
    out.write(`\nbatas catatan per menit tercapai: ${pending.length} catatan dikirim lagi dalam ${seconds} detik\n`);
    await wait(seconds * 1000);
  }
  return results.sort((a, b) => a.index - b.index);
}

async function sendChunk(lines: string[], opts: ImportOptions): Promise<{ results: BatchResult[]; retryAfterSeconds?: number }> {
  const query = new URLSearchParams({ ...(opts.source ? { source: opts.source } : {}), deviceTime: new Date().toISOString(), ...(opts.posyandu ? { posyandu: opts.posyandu } : {}) });
  const res = await request(`${opts.url.replace(/\/+$/, '')}/v1/records/$batch?${query.toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
    body: `${lines.join('\n')}\n`,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
  const text = await res.body.text();
  // the key's records budget was used up before the chunk: nothing of it was read
  if (res.statusCode === 429 && text.includes(THROTTLED)) return { results: [], retryAfterSeconds: Math.max(1, Number(res.headers['retry-after']) || 60) };
  if (res.statusCode !== 200) throw new Error(`the gateway answered ${res.statusCode}: ${text.slice(0, 300)}`);
  const results = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Partial<BatchResult> & { summary?: unknown })
    .filter((r): r is BatchResult & { summary?: unknown } => r.summary === undefined);
  return { results };
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const _ of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) n += 1;
  return n;
}

function bar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}]`;
}

function writeAtomically(path: string, data: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(data));
  renameSync(`${path}.tmp`, path);
}
