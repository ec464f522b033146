import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { OperationOutcomeError, getStatus, normalizeOperationOutcome, validateResource } from '@medplum/core';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, Identifier, OperationOutcome, OperationOutcomeIssue, Patient, Practitioner, RelatedPerson, Resource } from '@medplum/fhirtypes';
import { loadDefinitions, readBody, toFhirRequest } from './fhir-server.js';
import { freePort } from './redis-server.js';
import { ruleIssues } from './satusehat-rules.js';
import { seeded } from './seeded.js';

// A test upstream that behaves like SATUSEHAT where the reference (docs shared/reference/satusehat.md,
// "§n" below) states how it behaves, on top of Medplum's real FHIR engine. Where the reference is
// silent the behaviour is an option with a stated default, so a test can pin the assumption down.

export const NIK_SYSTEM = 'https://fhir.kemkes.go.id/id/nik';
export const NIK_IBU_SYSTEM = 'https://fhir.kemkes.go.id/id/nik-ibu';
export const IHS_SYSTEM = 'https://fhir.kemkes.go.id/id/ihs-number';
/** §1: every environment serves the token under /oauth2/v1 and FHIR under /fhir-r4/v1. */
export const AUTH_PATH = '/oauth2/v1';
export const FHIR_PATH = '/fhir-r4/v1';

/** A logged request that was a transaction Bundle (POST to the FHIR base). */
export const isTransaction = (r: { method: string; path: string }) => r.method === 'POST' && r.path === FHIR_PATH;

export interface SatusehatClient {
  clientId: string;
  clientSecret: string;
  /** §1: one client_id is bound to one Organization (Master Sarana Index id) */
  organizationId: string;
  organizationName?: string;
}

export const DEFAULT_CLIENT: SatusehatClient = {
  clientId: 'test-client-10000004',
  clientSecret: 'test-secret-10000004',
  organizationId: '10000004',
};

/** 'fhir' is every FHIR API call, 'transaction' only transaction Bundles (POST to the FHIR base). */
export type FaultTarget = 'fhir' | 'transaction' | 'token' | 'any';

/** §8: the faskes' business identifiers, the only ones the duplicate rule (20002) looks at. */
export const SYS_IDS_PREFIX = 'http://sys-ids.kemkes.go.id/';

export interface SatusehatServerOptions {
  port?: number;
  clients?: SatusehatClient[];
  /** §1: tokens live 60 minutes and the Apigee sample reports expires_in "3599" */
  tokenLifetimeSeconds?: number;
  /** §1 (P01): each failed token request costs a 1-minute penalty */
  penaltySeconds?: number;
  /** Not in the reference: what a token request gets during the penalty. Default 401. */
  penaltyStatus?: number;
  /** "each failed request costs a penalty" (§1) read literally: a refused request restarts it. Default true. */
  penaltyRestartsOnRetry?: boolean;
  /** Not in the reference (§8 gives rule 20002 but no HTTP status). Default 400. */
  duplicateStatus?: number;
  /** §2.2 (P07): a nik-ibu newborn's birthDate may be at most 60 days ago */
  newbornMaxAgeDays?: number;
  /** §8: conditional create is undocumented. 'ignore' (default) drops it, 'refuse' answers 400. */
  ifNoneExist?: 'ignore' | 'refuse';
  /** Patient, Practitioner and Location references in a Bundle must name a stored resource (invalid_reference, §8). Default true. */
  checkReferences?: boolean;
  /** a flaky platform: this share of requests fails (see setFlaky); none unless told */
  flaky?: FlakyOptions;
  now?: () => number;
}

/**
 * Each request (of the targets) fails with `status` with probability `rate`, before it is
 * processed, so nothing is written. Drawn from a generator seeded with `seed` (default 1), so a
 * run that fails can be run again with the same draws.
 */
export interface FlakyOptions {
  rate: number;
  status?: number;
  seed?: number;
  on?: FaultTarget;
}

export interface RequestLogEntry {
  method: string;
  /** pathname without the query, e.g. /oauth2/v1/accesstoken or /fhir-r4/v1/Patient */
  path: string;
  status: number;
  /** wall-clock ms (Date.now()) when the request arrived */
  at: number;
  /** wall-clock ms when the answer was written (or dropped because the client had gone); absent while delayNext holds it */
  answeredAt?: number;
}

export interface SeedPatient {
  nik?: string;
  /** a newborn registered under the mother's NIK (§2.2) */
  motherNik?: string;
  name: string;
  birthDate: string;
  gender: 'male' | 'female' | 'other' | 'unknown';
  multipleBirthInteger?: number;
  id?: string;
}

export interface SeedPractitioner {
  nik: string;
  name: string;
  gender?: 'male' | 'female';
  birthDate?: string;
  id?: string;
}

export interface SatusehatServerHandle {
  port: number;
  origin: string;
  /** {origin}/oauth2/v1 */
  authBase: string;
  /** {authBase}/accesstoken?grant_type=client_credentials */
  tokenUrl: string;
  /** {origin}/fhir-r4/v1 */
  fhirBase: string;
  repo: MemoryRepository;
  requests: RequestLogEntry[];
  /** every access token handed out, expired and revoked ones included (to search logs for) */
  issuedTokens(): string[];
  /** requests processed (writes committed) whose answer delayNext is still holding back */
  heldAnswers(): RequestLogEntry[];
  addClient(client: SatusehatClient): void;
  /** a valid token without an HTTP round trip, for tests that are not about auth */
  issueToken(clientId?: string): string;
  /** token requests that named this client_id, refused ones included */
  tokenRequests(clientId?: string): number;
  /** makes every token of a client (or all clients) invalid at once, as a revocation would */
  revokeTokens(clientId?: string): void;
  /** seconds of penalty left for a client_id, 0 when none */
  penaltyRemaining(clientId: string): number;
  addPatient(p: SeedPatient): Promise<string>;
  addPractitioner(p: SeedPractitioner): Promise<string>;
  failNext(n: number, status: number, opts?: { retryAfter?: string | number; body?: unknown; on?: FaultTarget }): void;
  throttle(n: number, retryAfterSeconds: number, opts?: { on?: FaultTarget }): void;
  /** the request is processed (writes committed) and only the answer is held back */
  delayNext(n: number, ms: number, opts?: { on?: FaultTarget }): void;
  /** forgets the faults and delays not used yet (failNext, throttle, delayNext) */
  clearFaults(): void;
  /** starts (or, with undefined, stops) failing a share of requests at random, seeded */
  setFlaky(flaky: FlakyOptions | undefined): void;
  /** how many requests the flakiness failed so far */
  flakyFailures(): number;
  down(): Promise<void>;
  up(): Promise<void>;
  countByIdentifier(resourceType: string): Promise<Record<string, number>>;
  resources<T extends Resource = Resource>(resourceType: string): Promise<T[]>;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface IssuedToken {
  clientId: string;
  expiresAt: number;
}

type Fault = { on: FaultTarget; status: number; retryAfter?: string; body?: unknown };
type Delay = { on: FaultTarget; ms: number };

const outcome = (code: OperationOutcomeIssue['code'], text: string, expression?: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) }],
});

const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({ status, body, ...(headers ? { headers } : {}) });

export async function startSatusehatServer(opts: SatusehatServerOptions = {}): Promise<SatusehatServerHandle> {
  loadDefinitions();
  const now = opts.now ?? Date.now;
  const lifetime = opts.tokenLifetimeSeconds ?? 3599;
  const penaltyMs = (opts.penaltySeconds ?? 60) * 1000;
  const port = opts.port ?? (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  const authBase = origin + AUTH_PATH;
  const fhirBase = origin + FHIR_PATH;

  const repo = new MemoryRepository();
  const router = new FhirRouter();
  const clients = new Map<string, SatusehatClient>();
  for (const c of opts.clients ?? [DEFAULT_CLIENT]) clients.set(c.clientId, c);
  const tokens = new Map<string, IssuedToken>();
  const everIssued: string[] = [];
  const tokenCounts = new Map<string, number>();
  const penaltyUntil = new Map<string, number>();
  const requests: RequestLogEntry[] = [];
  const faults: Fault[] = [];
  const delays: Delay[] = [];
  let flaky: { rate: number; status: number; on: FaultTarget; draw: () => number } | undefined;
  let flakyFailed = 0;
  const setFlaky = (f: FlakyOptions | undefined) => {
    flaky = f ? { rate: f.rate, status: f.status ?? 503, on: f.on ?? 'any', draw: seeded(f.seed ?? 1) } : undefined;
  };
  setFlaky(opts.flaky);
  const sockets = new Set<Socket>();
  let isDown = false;

  const issue = (client: SatusehatClient) => {
    const token = randomBytes(21).toString('base64url');
    tokens.set(token, { clientId: client.clientId, expiresAt: now() + lifetime * 1000 });
    everIssued.push(token);
    return token;
  };

  const tokenResponse = (client: SatusehatClient, token: string) => ({
    // §1: Apigee-style body; expires_in and issued_at are strings.
    refresh_token_expires_in: '0',
    api_product_list: '[api-dev]',
    api_product_list_json: ['api-dev'],
    organization_name: client.organizationName ?? 'ihs-test',
    'developer.email': 'test@example.invalid',
    token_type: 'BearerToken',
    issued_at: String(now()),
    client_id: client.clientId,
    access_token: token,
    application_name: `app-${client.organizationId}`,
    scope: '',
    expires_in: String(lifetime),
    refresh_count: '0',
    status: 'approved',
  });

  const handleToken = (method: string, url: URL, body: string): Reply => {
    if (method !== 'POST') return json(405, { error: 'method_not_allowed' });
    const form = new URLSearchParams(body);
    const clientId = form.get('client_id') ?? '';
    tokenCounts.set(clientId, (tokenCounts.get(clientId) ?? 0) + 1);
    // §1: grant_type travels in the query string, not in the form.
    if (url.searchParams.get('grant_type') !== 'client_credentials') return json(400, { error: 'unsupported_grant_type' });
    const until = penaltyUntil.get(clientId) ?? 0;
    if (until > now()) {
      if (opts.penaltyRestartsOnRetry ?? true) penaltyUntil.set(clientId, now() + penaltyMs);
      return json(opts.penaltyStatus ?? 401, { error: 'penalty', error_description: 'Too many failed token requests; wait before retrying' });
    }
    const client = clients.get(clientId);
    if (!client || client.clientSecret !== form.get('client_secret')) {
      penaltyUntil.set(clientId, now() + penaltyMs);
      return json(401, { error: 'invalid_client', error_description: 'Invalid client_id or client_secret' });
    }
    return json(200, tokenResponse(client, issue(client)));
  };

  const authorised = (header: string | undefined): boolean => {
    const m = /^Bearer (\S+)$/.exec(header ?? '');
    const t = m?.[1] ? tokens.get(m[1]) : undefined;
    return !!t && t.expiresAt > now();
  };

  // ---- resources -------------------------------------------------------------------------

  const all = async <T extends Resource>(resourceType: string): Promise<T[]> => {
    const bundle = await repo.search({ resourceType: resourceType as T['resourceType'] });
    return (bundle.entry ?? []).map((e) => e.resource as T);
  };

  const exists = async (resourceType: string, id: string) => {
    try {
      await repo.readResource(resourceType, id);
      return true;
    } catch {
      return false;
    }
  };

  const findByIdentifier = async (resourceType: string, id: Identifier): Promise<Resource | undefined> =>
    (await all(resourceType)).find((r) => identifiersOf(r).some((x) => x.system === id.system && x.value === id.value));

  // §2.1/§2.3: IHS numbers look like P02029382690, practitioner ids like N10000001.
  const newId = async (resourceType: string): Promise<string> => {
    for (;;) {
      const id =
        resourceType === 'Patient' ? `P${String(randomInt(1e9)).padStart(9, '0')}${String(randomInt(100)).padStart(2, '0')}`
        : resourceType === 'Practitioner' ? `N${String(10_000_000 + randomInt(89_999_999))}`
        : randomUUID();
      if (!(await exists(resourceType, id))) return id;
    }
  };

  const seedPatient = async (p: SeedPatient): Promise<string> => {
    if (!p.nik && !p.motherNik) throw new Error('addPatient needs nik or motherNik');
    const id = p.id ?? (await newId('Patient'));
    const patient: Patient = {
      resourceType: 'Patient',
      id,
      active: true,
      identifier: [
        { use: 'official', system: IHS_SYSTEM, value: id },
        p.nik ? { use: 'official', system: NIK_SYSTEM, value: p.nik } : { use: 'official', system: NIK_IBU_SYSTEM, value: p.motherNik! },
      ],
      name: [{ use: 'official', text: p.name }],
      gender: p.gender,
      birthDate: p.birthDate,
      multipleBirthInteger: p.multipleBirthInteger ?? 0,
    };
    await repo.createResource(patient);
    return id;
  };

  // ---- Patient create (§2.2): non-FHIR wrappers, HTTP 200, duplicates answered with the id ----

  const createPatient = async (body: unknown): Promise<Reply> => {
    const p = body as Patient;
    if (p?.resourceType !== 'Patient') return json(400, outcome('invalid', 'Resource is not a Patient (RuleNumber: 20006)'));
    const nik = p.identifier?.find((i) => i.system === NIK_SYSTEM && i.value);
    const motherNik = p.identifier?.find((i) => i.system === NIK_IBU_SYSTEM && i.value);
    const missing =
      !nik && !motherNik ? ['identifier', 10166]
      : !p.name?.[0]?.text ? ['name.text', 10168]
      : !p.birthDate ? ['birthDate', 10397]
      : !p.gender ? ['gender', 10413]
      : typeof p.multipleBirthInteger !== 'number' ? ['multipleBirthInteger', 10167]
      : !p.address?.length ? ['address', 10333]
      : undefined;
    if (missing) return json(400, outcome('required', `${missing[0]} is required (RuleNumber: ${missing[1]})`, `Patient.${missing[0]}`));
    const invalid = validationIssues(p);
    if (invalid) return json(400, { resourceType: 'OperationOutcome', issue: invalid });

    const duplicate = (resourceID: string) =>
      json(200, { success: false, message: 'Failed to create new patient, another identifier has found', data: { resourceID } });

    if (nik) {
      const existing = await findByIdentifier('Patient', { system: NIK_SYSTEM, value: nik.value! });
      if (existing?.id) return duplicate(existing.id);
      const id = await storePatient(p);
      return json(200, { success: true, message: 'New Patient has been created successfully', data: { patient_id: id } });
    }

    const maxDays = opts.newbornMaxAgeDays ?? 60;
    const ageDays = (now() - Date.parse(p.birthDate!.slice(0, 10) + 'T00:00:00Z')) / 86_400_000;
    if (!(ageDays >= -1 && ageDays <= maxDays)) {
      return json(400, outcome('business-rule', `birthDate must be within the last ${maxDays} days for a patient registered by nik-ibu`, 'Patient.birthDate'));
    }
    // §2.2 (W): a newborn is the same baby when mother, birthDate and multipleBirthInteger agree.
    const sameBaby = (await all<Patient>('Patient')).find(
      (x) =>
        x.identifier?.some((i) => i.system === NIK_IBU_SYSTEM && i.value === motherNik!.value) &&
        x.birthDate === p.birthDate &&
        x.multipleBirthInteger === p.multipleBirthInteger,
    );
    if (sameBaby?.id) return duplicate(sameBaby.id);
    const id = await storePatient(p);
    const mother: RelatedPerson = {
      resourceType: 'RelatedPerson',
      id: randomUUID(),
      active: true,
      identifier: [{ use: 'official', system: NIK_SYSTEM, value: motherNik!.value! }],
      patient: { reference: `Patient/${id}` },
      relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'FAMMEMB' }] }],
      ...(p.contact?.[0]?.name ? { name: [p.contact[0].name] } : {}),
    };
    await repo.createResource(mother);
    const stored = await repo.readResource<Patient>('Patient', id);
    await repo.updateResource<Patient>({ ...stored, link: [{ other: { reference: `RelatedPerson/${mother.id}` }, type: 'seealso' }] });
    return json(200, {
      create_patient: { success: true, message: 'New Patient has been created successfully', data: { patient_id: id } },
      create_related_patient: { success: true, message: 'New Related Person has been created successfully', data: { related_patient_id: mother.id } },
      update_link_patient: { success: true, message: 'Patient has been linked successfully' },
    });
  };

  const storePatient = async (p: Patient): Promise<string> => {
    const id = await newId('Patient');
    const identifier = [{ use: 'official' as const, system: IHS_SYSTEM, value: id }, ...(p.identifier ?? []).filter((i) => i.system !== IHS_SYSTEM)];
    await repo.createResource<Patient>({ ...p, id, identifier, meta: { ...p.meta, versionId: undefined, lastUpdated: undefined } });
    return id;
  };

  // ---- Transaction Bundles (§8) ----------------------------------------------------------

  const duplicateIssue = (r: Resource, id: Identifier, at: string): OperationOutcomeIssue => ({
    severity: 'error',
    code: 'duplicate',
    details: { text: `Found duplicate resource: ${r.resourceType} with identifier ${id.system}|${id.value} (RuleNumber: 20002)` },
    expression: [at],
  });

  /** Every check an entry must pass; undefined when it may be stored. */
  const checkResource = async (r: Resource, at: string, earlier: Resource[], createdHere: ReadonlySet<string> = new Set()): Promise<OperationOutcomeIssue[] | undefined> => {
    const invalid = validationIssues(r);
    if (invalid) return invalid.map((i) => ({ ...i, expression: [at, ...(i.expression ?? [])] }));
    // The platform's own validation rules (kamus validasi), each named by its RuleNumber.
    const broken = ruleIssues(r, at);
    if (broken.length > 0) return broken;
    // Rule 20002 is about the faskes' own business identifiers: an ANC Encounter's K-visit number
    // (§5) is shared by thousands of Encounters and is not one of them.
    for (const id of identifiersOf(r).filter((i) => i.system!.startsWith(SYS_IDS_PREFIX))) {
      const clash = earlier.some((e) => e.resourceType === r.resourceType && identifiersOf(e).some((x) => x.system === id.system && x.value === id.value));
      // An update keeps its own identifier: only another resource holding it is a duplicate.
      const holder = await findByIdentifier(r.resourceType, id);
      if (clash || (holder && holder.id !== r.id)) return [duplicateIssue(r, id, `${at}.identifier`)];
    }
    if (opts.checkReferences ?? true) {
      // A Location too must be on the platform or created by the same transaction: inferred from the
      // error category invalid_reference (§8); no official answer to a missing Location was found.
      for (const ref of referencesIn(r)) {
        const m = /^(Patient|Practitioner|Location)\/([^/]+)$/.exec(ref);
        if (m && !createdHere.has(ref) && !(await exists(m[1]!, m[2]!))) {
          return [{ severity: 'error', code: 'not-found', details: { text: `Invalid reference ${ref}: resource not found (RuleNumber: 20007)` }, expression: [at] }];
        }
      }
    }
    return undefined;
  };

  const transaction = async (body: unknown): Promise<Reply> => {
    const bundle = body as Bundle;
    if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'transaction' || !bundle.entry?.length) {
      return json(400, outcome('invalid', 'Expected a Bundle of type transaction with entries'));
    }
    const entries = bundle.entry;
    const failed = new Map<number, OperationOutcomeIssue[]>();
    const fail = (i: number, code: OperationOutcomeIssue['code'], text: string) =>
      failed.set(i, [{ severity: 'error', code, details: { text }, expression: [`Bundle.entry[${i}]`] }]);
    const fullUrls = new Set<string>();
    entries.forEach((e, i) => {
      if (!e.fullUrl) return fail(i, 'required', 'fullUrl is required (RuleNumber: 20021)');
      if (!/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(e.fullUrl)) {
        return fail(i, 'invalid', 'fullUrl must be urn:uuid:{valid uuid} (RuleNumber: 20017)');
      }
      if (fullUrls.has(e.fullUrl)) return fail(i, 'invalid', 'fullUrl must be unique within the Bundle (RuleNumber: 20020)');
      fullUrls.add(e.fullUrl);
      if (!e.resource) return fail(i, 'required', 'entry.resource is required');
      if (e.resource.resourceType === 'Bundle') return fail(i, 'invalid', 'Nested Bundles are not allowed (RuleNumber: 20011)');
      const update = e.request?.method === 'PUT' ? updateTarget(e.request.url, e.resource) : undefined;
      if (update) return update.problem ? fail(i, 'invalid', update.problem) : undefined;
      if (e.request?.method !== 'POST' || e.request.url !== e.resource.resourceType) {
        return fail(i, 'not-supported', 'Only POST {resourceType} and PUT {resourceType}/{id} entries are supported');
      }
      if (e.request.ifNoneExist && opts.ifNoneExist === 'refuse') return fail(i, 'not-supported', 'Conditional create is not supported');
      return undefined;
    });

    // Both reference styles in the official examples (§8): urn:uuid:X and Type/X with X the fullUrl's uuid.
    const targets = new Map<string, { index: number; reference: string }>();
    const ids: string[] = [];
    const updates = new Set<number>();
    for (const [i, e] of entries.entries()) {
      const type = e.resource?.resourceType ?? '';
      const target = e.request?.method === 'PUT' ? updateTarget(e.request.url, e.resource) : undefined;
      if (target?.id && !failed.has(i)) {
        updates.add(i);
        if (!(await exists(type, target.id))) fail(i, 'not-found', `${type}/${target.id} not found (RuleNumber: 20007)`);
      }
      const id = target?.id ?? (await newId(type));
      ids.push(id);
      if (!e.fullUrl) continue;
      targets.set(e.fullUrl, { index: i, reference: `${type}/${id}` });
      targets.set(`${type}/${e.fullUrl.slice('urn:uuid:'.length)}`, { index: i, reference: `${type}/${id}` });
    }
    const resolved = entries.map((e, i) => (e.resource ? ({ ...rewriteReferences(e.resource, targets), id: ids[i] } as Resource) : undefined));

    const accepted: Resource[] = [];
    const createdHere = new Set(resolved.flatMap((r, i) => (r && !updates.has(i) ? [`${r.resourceType}/${r.id}`] : [])));
    for (const [i, r] of resolved.entries()) {
      if (failed.has(i) || !r) continue;
      const issues = await checkResource(r, `Bundle.entry[${i}].resource`, accepted, createdHere);
      if (issues) failed.set(i, issues);
      else accepted.push(r);
    }
    // Rules 20012/20013: an entry that refers to a failed entry fails with it.
    for (let changed = true; changed; ) {
      changed = false;
      for (const [i, e] of entries.entries()) {
        if (failed.has(i) || !e.resource) continue;
        const dep = referencesIn(e.resource).map((ref) => targets.get(ref)).find((t) => t && failed.has(t.index));
        if (dep) {
          fail(i, 'processing', `Entry failed due to previous error in Bundle.entry[${dep.index}] (RuleNumber: 20012)`);
          changed = true;
        }
      }
    }
    if (failed.size > 0) {
      const issue = [...failed.entries()].sort(([a], [b]) => a - b).flatMap(([, v]) => v);
      const status = issue.some((x) => x.code === 'duplicate') ? (opts.duplicateStatus ?? 400) : 400;
      return json(status, { resourceType: 'OperationOutcome', issue });
    }

    const response: BundleEntry[] = [];
    for (const [i, r] of resolved.entries()) {
      const stored = updates.has(i) ? await replaceStored(r!) : await repo.createResource({ ...r!, meta: { ...r!.meta, versionId: undefined, lastUpdated: undefined } });
      const vid = stored.meta?.versionId ?? '1';
      response.push({
        response: {
          status: updates.has(i) ? '200 OK' : '201 Created',
          location: `${fhirBase}/${stored.resourceType}/${stored.id}/_history/${vid}`,
          etag: `W/"${vid}"`,
          lastModified: stored.meta?.lastUpdated,
          // §8: non-standard fields SATUSEHAT adds to each entry's response
          resourceType: stored.resourceType,
          resourceID: stored.id,
        } as BundleEntry['response'],
      });
    }
    return json(200, { resourceType: 'Bundle', type: 'transaction-response', entry: response });
  };

  /** A single write refused: 400, or duplicateStatus when it is the duplicate rule. */
  const refusal = (issues: OperationOutcomeIssue[]): Reply =>
    json(issues.some((i) => i.code === 'duplicate') ? (opts.duplicateStatus ?? 400) : 400, { resourceType: 'OperationOutcome', issue: issues });

  const createOne = async (resourceType: string, body: unknown): Promise<Reply> => {
    const r = body as Resource;
    if (r?.resourceType !== resourceType) return json(400, outcome('invalid', `Body is not a ${resourceType} (RuleNumber: 20006)`));
    const candidate = { ...r, id: await newId(resourceType) } as Resource;
    const issues = await checkResource(candidate, resourceType, []);
    if (issues) return refusal(issues);
    const stored = await repo.createResource({ ...candidate, meta: { ...candidate.meta, versionId: undefined, lastUpdated: undefined } });
    return json(201, stored, { location: `${fhirBase}/${resourceType}/${stored.id}/_history/${stored.meta?.versionId ?? '1'}` });
  };

  // ---- Updates (§13: PUT {Type}/{id} of what the platform holds, P13__020, P16__056) --------

  /** A PUT entry's or request's target: the id in `{Type}/{id}`, or why it cannot be one. */
  const updateTarget = (url: string | undefined, r: Resource | undefined): { id?: string; problem?: string } => {
    const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(url ?? '');
    if (!m || !r || m[1] !== r.resourceType) return { problem: `PUT must name ${r?.resourceType ?? 'the resource type'}/{id}` };
    if (r.id !== m[2]) return { id: m[2], problem: `The resource id (${r.id ?? 'none'}) must be the id in the URL (${m[2]})` };
    return { id: m[2] };
  };

  /** The update replaces the stored resource whole; the platform keeps the version history. */
  const replaceStored = (r: Resource) => repo.updateResource({ ...r, meta: { ...r.meta, versionId: undefined, lastUpdated: undefined } });

  const updateOne = async (resourceType: string, id: string, body: unknown): Promise<Reply> => {
    const r = body as Resource;
    if (r?.resourceType !== resourceType) return json(400, outcome('invalid', `Body is not a ${resourceType} (RuleNumber: 20006)`));
    const target = updateTarget(`${resourceType}/${id}`, r);
    if (target.problem) return json(400, outcome('invalid', target.problem, `${resourceType}.id`));
    if (!(await exists(resourceType, id))) return json(404, outcome('not-found', `${resourceType}/${id} not found (RuleNumber: 20007)`));
    const issues = await checkResource(r, resourceType, []);
    if (issues) return refusal(issues);
    return json(200, await replaceStored(r));
  };

  // JSON Patch is what the official collections use on Encounter and EpisodeOfCare (and on the
  // master data a faskes owns, which Gerbang does not edit); other clinical types only get PUT.
  const PATCHABLE = new Set(['Encounter', 'EpisodeOfCare']);
  const patchOne = async (req: IncomingMessage, resourceType: string, id: string, body: unknown): Promise<Reply> => {
    if (!PATCHABLE.has(resourceType)) return json(405, outcome('not-supported', `PATCH is not supported for ${resourceType}; use PUT ${resourceType}/{id}`));
    if (!/^application\/json-patch\+json\b/.test(req.headers['content-type'] ?? '')) {
      return json(415, outcome('not-supported', 'PATCH needs Content-Type application/json-patch+json'));
    }
    if (!Array.isArray(body) || body.length === 0) return json(400, outcome('invalid', 'A JSON Patch is a non-empty array of operations'));
    if (!(await exists(resourceType, id))) return json(404, outcome('not-found', `${resourceType}/${id} not found (RuleNumber: 20007)`));
    const before = await repo.readResource(resourceType, id);
    let patched: Resource;
    try {
      patched = await repo.patchResource(resourceType as Resource['resourceType'], id, body as Parameters<MemoryRepository['patchResource']>[2]);
    } catch (err) {
      const oo = normalizeOperationOutcome(err);
      return json(400, oo);
    }
    const issues = patched.id === id ? await checkResource(patched, resourceType, []) : [{ severity: 'error' as const, code: 'invalid' as const, details: { text: 'A patch may not change the id' } }];
    if (issues) {
      await replaceStored(before); // nothing changes when the result is refused
      return refusal(issues);
    }
    return json(200, patched);
  };

  const viaRouter = async (req: IncomingMessage, url: URL, relPath: string, body: unknown): Promise<Reply> => {
    const fhirReq = toFhirRequest(req, url, relPath, body, {});
    try {
      const [result, resource] = await router.handleRequest(fhirReq, repo);
      // §2.1: a search that finds nothing is a searchset with total 0.
      if (resource?.resourceType === 'Bundle' && resource.type === 'searchset' && resource.total === undefined) {
        resource.total = resource.entry?.length ?? 0;
      }
      return json(getStatus(result), resource ?? result);
    } catch (err) {
      const oo = normalizeOperationOutcome(err);
      return json(getStatus(oo), oo);
    }
  };

  const handleFhir = async (req: IncomingMessage, url: URL, rawBody: string): Promise<Reply> => {
    if (!authorised(req.headers.authorization)) return json(401, outcome('login', 'Invalid or expired access token'));
    const method = req.method ?? 'GET';
    const rel = url.pathname.slice(FHIR_PATH.length).replace(/\/+$/, '');
    let body: unknown;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        return json(400, outcome('structure', 'Request body is not valid JSON (RuleNumber: 20005)'));
      }
    }
    const [, type, id] = rel.split('/');
    if (method === 'POST' && rel === '') return transaction(body);
    if (method === 'POST' && type === 'Patient' && id === undefined) return createPatient(body);
    if (type === 'Patient' && method !== 'GET') return json(403, outcome('forbidden', 'Patient may not be edited by a faskes (RuleNumber: 20016)'));
    if (type === 'Practitioner' && method !== 'GET') return json(403, outcome('forbidden', 'Practitioner is read-only master data'));
    if (method === 'POST' && type && id === undefined) return createOne(type, body);
    if (method === 'PUT' && type && id !== undefined) return updateOne(type, id, body);
    if (method === 'PATCH' && type && id !== undefined) return patchOne(req, type, id, body);
    if (method !== 'GET') return json(405, outcome('not-supported', `${method} ${rel} is not supported`));
    return viaRouter(req, url, rel || '/', body);
  };

  // ---- HTTP ------------------------------------------------------------------------------

  const take = <T extends { on: FaultTarget }>(queue: T[], target: 'fhir' | 'token', isTransaction: boolean): T | undefined => {
    const i = queue.findIndex((f) => f.on === target || f.on === 'any' || (f.on === 'transaction' && isTransaction));
    return i < 0 ? undefined : queue.splice(i, 1)[0];
  };
  const held = new Set<RequestLogEntry>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const at = Date.now();
    const rawBody = await readBody(req);
    const url = new URL(req.url ?? '/', origin);
    const target = url.pathname.startsWith(AUTH_PATH) ? 'token' : 'fhir';
    const isTransaction = req.method === 'POST' && url.pathname.replace(/\/+$/, '') === FHIR_PATH;
    const flakyHit = flaky && (flaky.on === 'any' || flaky.on === target || (flaky.on === 'transaction' && isTransaction)) && flaky.draw() < flaky.rate;
    if (flakyHit) flakyFailed++;
    const fault = flakyHit ? { on: flaky!.on, status: flaky!.status } as Fault : take(faults, target, isTransaction);
    let reply: Reply;
    if (fault) {
      const body = fault.body ?? outcome(fault.status === 429 ? 'throttled' : 'transient', fault.status === 429 ? 'Too Many Requests' : 'Injected fault');
      reply = json(fault.status, body, fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : undefined);
    } else if (url.pathname === `${AUTH_PATH}/accesstoken`) {
      reply = handleToken(req.method ?? '', url, rawBody);
    } else if (url.pathname === FHIR_PATH || url.pathname.startsWith(`${FHIR_PATH}/`)) {
      // One request's writes at a time: the duplicate rule is a unique constraint, not a race.
      reply = await serially(() => handleFhir(req, url, rawBody));
    } else {
      reply = json(404, outcome('not-found', 'Unknown path'));
    }
    const entry: RequestLogEntry = { method: req.method ?? '', path: url.pathname, status: reply.status, at };
    requests.push(entry);
    const delay = take(delays, target, isTransaction);
    if (delay) {
      held.add(entry);
      await new Promise((r) => setTimeout(r, delay.ms));
      held.delete(entry);
    }
    entry.answeredAt = Date.now();
    if (res.destroyed) return;
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(JSON.stringify(reply.body));
  };

  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(normalizeOperationOutcome(err)));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const listen = () => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const stopListening = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  await listen();

  return {
    port,
    origin,
    authBase,
    tokenUrl: `${authBase}/accesstoken?grant_type=client_credentials`,
    fhirBase,
    repo,
    requests,
    heldAnswers: () => [...held],
    issuedTokens: () => [...everIssued],
    addClient(c) {
      clients.set(c.clientId, c);
    },
    issueToken(clientId = DEFAULT_CLIENT.clientId) {
      const c = clients.get(clientId);
      if (!c) throw new Error(`unknown client ${clientId}`);
      return issue(c);
    },
    tokenRequests(clientId = DEFAULT_CLIENT.clientId) {
      return tokenCounts.get(clientId) ?? 0;
    },
    revokeTokens(clientId) {
      for (const [t, v] of tokens) if (!clientId || v.clientId === clientId) tokens.delete(t);
    },
    penaltyRemaining(clientId) {
      return Math.max(0, Math.ceil(((penaltyUntil.get(clientId) ?? 0) - now()) / 1000));
    },
    addPatient: seedPatient,
    async addPractitioner(p) {
      const id = p.id ?? (await newId('Practitioner'));
      await repo.createResource<Practitioner>({
        resourceType: 'Practitioner',
        id,
        identifier: [{ use: 'official', system: NIK_SYSTEM, value: p.nik }],
        name: [{ use: 'official', text: p.name }],
        ...(p.gender ? { gender: p.gender } : {}),
        ...(p.birthDate ? { birthDate: p.birthDate } : {}),
      });
      return id;
    },
    failNext(n, status, o = {}) {
      const retryAfter = o.retryAfter === undefined ? undefined : String(o.retryAfter);
      for (let i = 0; i < n; i++) faults.push({ on: o.on ?? 'fhir', status, ...(retryAfter ? { retryAfter } : {}), ...(o.body ? { body: o.body } : {}) });
    },
    throttle(n, retryAfterSeconds, o = {}) {
      for (let i = 0; i < n; i++) faults.push({ on: o.on ?? 'fhir', status: 429, retryAfter: String(retryAfterSeconds) });
    },
    delayNext(n, ms, o = {}) {
      for (let i = 0; i < n; i++) delays.push({ on: o.on ?? 'fhir', ms });
    },
    clearFaults() {
      faults.length = 0;
      delays.length = 0;
    },
    setFlaky,
    flakyFailures: () => flakyFailed,
    async down() {
      if (isDown) return;
      isDown = true;
      await stopListening();
    },
    async up() {
      if (!isDown) return;
      await listen();
      isDown = false;
    },
    async countByIdentifier(resourceType) {
      const counts: Record<string, number> = {};
      for (const r of await all(resourceType)) {
        for (const id of identifiersOf(r)) counts[`${id.system}|${id.value}`] = (counts[`${id.system}|${id.value}`] ?? 0) + 1;
      }
      return counts;
    },
    resources: all,
    async close() {
      if (!isDown) await stopListening();
      isDown = true;
    },
  };
}

function identifiersOf(r: Resource): Identifier[] {
  const ids = (r as { identifier?: Identifier | Identifier[] }).identifier;
  const list = Array.isArray(ids) ? ids : ids ? [ids] : [];
  return list.filter((i) => i.system && i.value);
}

/** The validator's errors, or undefined when the resource is valid FHIR R4. */
function validationIssues(r: Resource): OperationOutcomeIssue[] | undefined {
  try {
    const issues = validateResource(r).filter((i) => i.severity === 'error');
    return issues.length > 0 ? issues : undefined;
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue;
    throw err;
  }
}

function referencesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) referencesIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else referencesIn(v, out);
    }
  }
  return out;
}

function rewriteReferences<T>(value: T, targets: Map<string, { reference: string }>): T {
  if (Array.isArray(value)) return value.map((v) => rewriteReferences(v, targets)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === 'reference' && typeof v === 'string' ? (targets.get(v)?.reference ?? v) : rewriteReferences(v, targets);
    }
    return out as T;
  }
  return value;
}

