import { PassThrough, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GerbangError, type Issue } from '../../errors/gerbang-error.js';
import { message, pickLanguage, type Language } from '../../errors/messages.js';
import { BatchShapeError, BatchTooLargeError, jsonArrayItems, ndjsonItems, type BatchItem } from '../../ingest/batch-stream.js';
import { shownTo } from '../../ingest/history-shown.js';
import { ingest } from '../../ingest/ingest.js';
import { logRepeated } from '../../log/logger.js';
import { identityOf } from '../../records/subject-identity.js';
import { callerOf } from '../auth/authenticate.js';
import { BudgetDraw, overBudget } from '../auth/record-budget.js';
import { sourceOf } from '../auth/source.js';
import { toOperationOutcome } from '../operation-outcome.js';
import { refusedPart } from '../refused-part.js';
import type { Services } from '../services.js';

const NDJSON = 'application/x-ndjson';
// A device clock this far from the gateway's is worth telling the kader about.
const CLOCK_TOLERANCE_MS = 10 * 60_000;

/**
 * POST /v1/records/$batch: a backlog after days offline, as a JSON array or NDJSON, canonical or
 * through an adapter. Read one record at a time and answered one result per record, in order,
 * as the records are taken: memory does not grow with the batch, and one bad record never sinks it.
 * Records are taken one after the other, so the records of one child keep their order.
 */
export function batchRoutes(app: FastifyInstance, services: Services): void {
  void app.register(async (scoped) => {
    // The batch is read as a stream here, not parsed whole by Fastify.
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser(['application/json', NDJSON], (_req, payload, done) => done(null, payload));
    scoped.post<{ Querystring: BatchQuery }>(
      '/v1/records/$batch',
      {
        config: { access: 'records:write' },
        schema: {
          tags: ['records'],
          summary: 'A backlog: JSON array or NDJSON, one result per record in order',
          querystring: {
            type: 'object',
            properties: {
              source: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,39}$' },
              posyandu: { type: 'string', maxLength: 64 },
              deviceTime: { type: 'string', maxLength: 40 },
            },
          },
        },
      },
      (req, reply) => handleBatch(req, reply, services),
    );
  });
}

interface BatchQuery {
  source?: string;
  posyandu?: string;
  deviceTime?: string;
}

async function handleBatch(req: FastifyRequest<{ Querystring: BatchQuery }>, reply: FastifyReply, services: Services) {
  const caller = callerOf(req);
  const source = sourceOf(req, caller);
  const deps = { ...services, mayWrite: (p: string) => caller.scope.coversPosyandu(p) };
  const ndjson = (req.headers['content-type'] ?? '').startsWith(NDJSON);
  const lang = pickLanguage(req.headers['accept-language']);
  const server = services.config.server;
  const limits = { recordMaxBytes: server.batchRecordMaxBytes, requestMaxBytes: server.batchMaxBytes, maxDepth: server.jsonMaxDepth };
  // A body that says it is too large is refused before a byte of it is read.
  const declared = Number(req.headers['content-length']);
  if (declared > limits.requestMaxBytes) {
    throw new GerbangError('request.too-large', [{ key: 'batch.declared-too-large', severity: 'error', params: { limit: limits.requestMaxBytes } }]);
  }
  // A key whose records-per-minute budget is used up is refused before a record is read.
  const draw = services.budget ? new BudgetDraw(services.budget, caller) : undefined;
  if (draw && !(await draw.start())) throw overBudget(draw.limit, draw.retryAfterSeconds);
  const body = req.body as Readable;
  const out = new PassThrough();
  const write = ndjson ? ndjsonWriter(out) : jsonWriter(out);
  void run().catch((err: unknown) => {
    // a bug or a client gone mid-stream: the answer still ends with its summary
    logRepeated(req.log, 'error', 'batch', err, {}, 'batch failed');
    write.end({ received: 0, outcome: toOperationOutcome([{ key: 'internal', severity: 'error' }], lang) });
  });
  return reply.code(200).type(ndjson ? `${NDJSON}; charset=utf-8` : 'application/json; charset=utf-8').send(out);

  async function run(): Promise<void> {
    const now = new Date();
    const max = server.batchMaxRecords;
    const counts = { accepted: 0, duplicate: 0, refused: 0 };
    const occurred: number[] = [];
    let index = 0;
    let truncated = false;
    let tooLarge: BatchTooLargeError | undefined;
    const items: AsyncGenerator<BatchItem> = ndjson ? ndjsonItems(body, limits) : jsonArrayItems(body, limits);
    const inOrder = new OrderedWindow<Awaited<ReturnType<typeof one>>>(WINDOW);
    const emit = (result: { result: string }) => {
      counts[result.result as keyof typeof counts] += 1;
      write.item(result);
    };
    try {
      for await (const item of items) {
        if (index >= max) {
          truncated = true;
          break;
        }
        const at = index;
        if (draw && !(await draw.admit())) {
          // beyond the budget: refused alone, unread, and the batch's tail from here on
          for (const done of await inOrder.add(`budget.${at}`, async () => overBudgetLine(at, draw))) emit(done);
          index += 1;
          continue;
        }
        for (const done of await inOrder.add(childOf(item), () => one(item, at, now, occurred))) emit(done);
        index += 1;
      }
    } catch (err) {
      for (const done of await inOrder.drain()) emit(done);
      if (err instanceof BatchTooLargeError) tooLarge = err;
      else if (err instanceof BatchShapeError) {
        write.item({ index, result: 'refused', code: 'batch.not-a-list', outcome: toOperationOutcome([{ key: 'batch.not-a-list', severity: 'error' }], lang) });
        counts.refused += 1;
      } else throw err;
    }
    for (const done of await inOrder.drain()) emit(done);
    await draw?.finish();
    // What is left of the body is not read: the connection is closed once the answer is out.
    if (!body.readableEnded) closeWhenAnswered(req, reply);
    write.end({
      received: index,
      ...counts,
      ...(truncated ? { truncatedAfter: max, outcome: toOperationOutcome([{ key: 'batch.too-many', severity: 'error', params: { limit: max } }], lang) } : {}),
      ...(tooLarge
        ? { truncatedAtBytes: tooLarge.limit, outcome: toOperationOutcome([{ key: 'batch.request-too-large', severity: 'error', params: { limit: tooLarge.limit, received: index } }], lang) }
        : {}),
      ...(draw && draw.refused > 0 ? overBudgetSummary(draw) : {}),
      ...clockWarnings(req.query.deviceTime, now, occurred, lang),
    });
  }

  function overBudgetLine(index: number, d: BudgetDraw) {
    const err = overBudget(d.limit, d.retryAfterSeconds);
    return { index, result: 'refused', code: err.code, retryAfterSeconds: d.retryAfterSeconds, outcome: toOperationOutcome(err.issues, lang) };
  }

  /** Said in the summary as well, where an app that resends looks first; a truncation's outcome, if any, stays. */
  function overBudgetSummary(d: BudgetDraw) {
    const issue: Issue = { key: 'batch.over-record-budget', severity: 'error', params: { limit: d.limit, refused: d.refused, seconds: d.retryAfterSeconds } };
    return { overBudget: d.refused, retryAfterSeconds: d.retryAfterSeconds, budgetOutcome: toOperationOutcome([issue], lang) };
  }

  async function one(item: BatchItem, index: number, now: Date, occurred: number[]) {
    if (!item.ok) return { index, result: 'refused', code: item.error.code, outcome: toOperationOutcome(item.error.issues, lang) };
    const at = (item.value as { occurredAt?: unknown } | null)?.occurredAt;
    if (typeof at === 'string' && !Number.isNaN(Date.parse(at))) occurred.push(Date.parse(at));
    try {
      const records = await ingest(item.value, source, deps, now, req.query.posyandu);
      const all = records.map((r) => {
        if (r.result === 'refused') return refusedPart(r, lang);
        // warnings that quote the history only from history the caller's scope covers (history-shown.ts)
        const { warnings } = shownTo(r, r.historyFrom, deps.mayWrite);
        return { id: r.id, kind: r.kind, version: r.version, outcome: r.outcome, ...(warnings.length > 0 ? { warnings: toOperationOutcome(warnings, lang) } : {}) };
      });
      // An item some of whose records went in is accepted; its refused records are listed with the others.
      const result = records.every((r) => r.result === 'refused' || r.outcome === 'duplicate') ? 'duplicate' : 'accepted';
      return all.length === 1 ? { index, result, ...all[0] } : { index, result, records: all };
    } catch (caught) {
      // A bug refuses its record alone (logged as one); the rest of the batch goes on.
      if (!(caught instanceof GerbangError)) logRepeated(req.log, 'error', 'batch', caught, { index }, 'unexpected error in a batch record');
      const err = caught instanceof GerbangError ? caught : new GerbangError('internal');
      // ingest() counted a refusal it gave; a bug is counted here
      if (!(caught instanceof GerbangError)) services.metrics.recordRefused((item.value as { kind?: unknown } | null)?.kind, err.code);
      if (err.code === 'store.unavailable') logRepeated(req.log, 'warn', 'ingest', err.cause, { index }, 'store unavailable at ingest');
      return { index, result: 'refused', code: err.code, outcome: toOperationOutcome(err.issues, lang) };
    }
  }
}

/**
 * Once the answer is out, the connection is closed instead of reading the rest of a body that may
 * never end. What still arrives is discarded for a moment, so that the client reads the answer
 * rather than a reset.
 */
function closeWhenAnswered(req: FastifyRequest, reply: FastifyReply): void {
  // the request's own socket is let go once its stream is destroyed; the answer's is still there
  const socket = (reply.raw.socket ?? req.raw.socket) as typeof req.raw.socket | null;
  if (!socket) return; // the client is gone already
  reply.raw.once('finish', () => {
    req.raw.resume();
    socket.end();
    setTimeout(() => socket.destroy(), 2_000).unref();
  });
}

// Records in flight at once. Their answers still go out in input order, and the records of one
// child wait for each other, so a child's visits reach the ledger (and the upstream) in order.
const WINDOW = 16;

/** The child a batch item is about, when it says; items that do not say go one at a time. */
function childOf(item: BatchItem): string {
  return (item.ok ? identityOf(item.value) : undefined) ?? 'unknown';
}

/**
 * Runs up to `size` tasks at once; tasks with the same key run one after the other. Results come
 * back in the order the tasks were added, as soon as the earliest ones are done.
 */
class OrderedWindow<T> {
  private readonly pending: Array<Promise<T>> = [];
  private readonly lastOfKey = new Map<string, Promise<unknown>>();

  constructor(private readonly size: number) {}

  async add(key: string, task: () => Promise<T>): Promise<T[]> {
    const before = this.lastOfKey.get(key) ?? Promise.resolve();
    const run = before.then(task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.lastOfKey.set(key, settled);
    // forget the key once its last task is done, so the map does not grow with the batch
    void settled.then(() => {
      if (this.lastOfKey.get(key) === settled) this.lastOfKey.delete(key);
    });
    this.pending.push(run);
    const out: T[] = [];
    while (this.pending.length >= this.size) out.push(await this.pending.shift()!);
    return out;
  }

  async drain(): Promise<T[]> {
    const out: T[] = [];
    while (this.pending.length > 0) out.push(await this.pending.shift()!);
    return out;
  }
}

/** A device clock that is off, or a batch whose records all lie ahead of now: said, never shifted. */
function clockWarnings(deviceTime: string | undefined, now: Date, occurred: number[], lang: Language): { warnings?: string[] } {
  const warnings: string[] = [];
  if (deviceTime && !Number.isNaN(Date.parse(deviceTime))) {
    const skew = Date.parse(deviceTime) - now.getTime();
    if (Math.abs(skew) > CLOCK_TOLERANCE_MS) warnings.push(message('batch.device-clock', lang, { minutes: Math.round(skew / 60_000) }));
  }
  if (occurred.length > 1 && occurred.every((t) => t > now.getTime())) warnings.push(message('batch.all-in-future', lang));
  return warnings.length > 0 ? { warnings } : {};
}

function ndjsonWriter(out: PassThrough) {
  return {
    item: (r: unknown) => out.write(`${JSON.stringify(r)}\n`),
    end: (summary: unknown) => {
      if (!out.writableEnded) out.end(`${JSON.stringify({ summary })}\n`);
    },
  };
}

function jsonWriter(out: PassThrough) {
  let first = true;
  out.write('{"results":[');
  return {
    item: (r: unknown) => {
      out.write(`${first ? '\n' : ',\n'}${JSON.stringify(r)}`);
      first = false;
    },
    end: (summary: unknown) => {
      if (!out.writableEnded) out.end(`\n],"summary":${JSON.stringify(summary)}}\n`);
    },
  };
}


