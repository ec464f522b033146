import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { hashApiKey } from '../../src/http/auth/api-keys.js';
import { validAnthropometry, withChanges } from '../fixtures/records.js';
import { launchChromium } from '../helpers/chromium.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { sandboxUpstream, startGateway, waitFor } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis-server.js';

// The dashboard as people see it, in a real Chromium against a running gateway with real records:
// a puskesmas monitor on a laptop, then the district admin on a phone replaying a failed record.
// Screenshots go to test-artifacts/.

const artifacts = join(process.cwd(), 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const keys = { admin: 'gbk_dash-admin', monitor: 'gbk_dash-monitor-a' };

const redis = await startRedis();
const fhir = await startFhirServer();
const gw = await startGateway({
  redisUrl: redis.url,
  upstreams: [{ name: 'sandbox', ...sandboxUpstream(fhir.baseUrl) }],
  apiKeys: [
    { id: 'dinkes-admin', hash: hashApiKey(keys.admin), role: 'admin' },
    { id: 'pkm-cibinong', hash: hashApiKey(keys.monitor), role: 'monitor', scope: { puskesmas: ['P3201010101'] } },
  ],
});
const browser = await launchChromium();
t.teardown(async () => {
  await browser.close();
  await gw.close();
  await fhir.stop();
  await redis.stop();
});

const plan: Array<[string, string]> = [
  ['D-1', '3201010001-01'], ['D-2', '3201010001-01'], ['D-FAIL', '3201010001-01'],
  ['D-3', '3201010001-02'], ['D-4', '5271010002-01'],
];
fhir.rejectContaining('D-FAIL', 422, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'business-rule', diagnostics: 'Lokasi posyandu tidak dikenal' }] });
let serial = 300;
for (const [recordId, posyandu] of plan) {
  serial += 1;
  const rec = withChanges({ recordId, posyandu, subject: { ...validAnthropometry.subject, nik: `320101550323${String(serial).padStart(4, '0')}` } });
  const res = await fetch(`${gw.url}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' }, body: JSON.stringify(rec) });
  if (res.status !== 202) throw new Error(`${recordId}: ${res.status}`);
}
await waitFor(async () => {
  const r = await fetch(`${gw.url}/v1/sync/summary`, { headers: { authorization: `Bearer ${keys.admin}` } });
  const c = ((await r.json()) as any).upstreams[0].totals.counts;
  return c.synced === 4 && c.failed === 1;
}, 30_000, 'records settled');

async function openAs(key: string, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport, locale: 'id-ID' });
  const page = await context.newPage();
  const foreign: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(gw.url)) foreign.push(req.url());
  });
  await page.goto(`${gw.url}/dashboard`);
  await page.locator('#login-form').waitFor();
  await page.fill('#key', key);
  await page.click('#login-form button[type=submit]');
  await page.locator('#areas tbody tr').first().waitFor();
  return { page, context, foreign };
}

t.test('a puskesmas monitor on a laptop sees its posyandu, counts, health and the failure', async (t) => {
  const { page, context, foreign } = await openAs(keys.monitor, { width: 1280, height: 900 });
  t.match(await page.locator('#who').textContent(), /pkm-cibinong · pemantau/);
  const rows = await page.locator('#areas tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim())));
  // puskesmas row, then its two posyandu; nothing of the other puskesmas
  t.same(rows.map((r) => r[0]), ['Puskesmas Cibinong (demo)', 'Posyandu Cempaka (demo)', 'Posyandu Melati (demo)']);
  const [pk, cempaka, melati] = rows;
  t.same([pk?.[1], pk?.[5], pk?.[6]], ['Masalah', '1', '3'], 'puskesmas: red, 1 failed, 3 synced');
  t.same([cempaka?.[1], cempaka?.[5], cempaka?.[6]], ['Masalah', '1', '2']);
  t.same([melati?.[1], melati?.[5], melati?.[6]], ['Baik', '0', '1']);
  t.match(await page.locator('#cards').textContent(), /Terkirim\s*/);
  const failures = page.locator('#failures tbody tr');
  t.equal(await failures.count(), 1);
  t.match(await failures.first().textContent(), /Ditolak server tujuan: Lokasi posyandu tidak dikenal/);
  t.equal(await page.locator('.retry-one').first().isVisible(), false, 'a monitor has no replay button');
  t.equal(await page.locator('#retry-all').isVisible(), false, 'nor a bulk replay');
  t.equal(await page.locator('#trend .day').count(), 14, 'a trend of 14 days');
  const regions = await page.locator('#regency option').allTextContents();
  t.same(regions, ['Semua', 'Kab/Kota 3201 (Jawa Barat)'], 'the region picker offers only its own region');
  await page.screenshot({ path: join(artifacts, 'dashboard-monitor-laptop.png'), fullPage: true });
  t.same(foreign, [], 'no request leaves the gateway (no CDN)');
  await context.close();
});

t.test('the district admin on a phone replays the failed record', async (t) => {
  const { page, context, foreign } = await openAs(keys.admin, { width: 390, height: 844 });
  const names = await page.locator('#areas tbody tr td:first-child').allTextContents();
  t.ok(names.includes('Puskesmas Ampenan (demo)'), 'a district key sees every puskesmas');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  t.ok(width <= 400, `the page fits the phone (${width}px); wide tables scroll inside their box`);
  await page.screenshot({ path: join(artifacts, 'dashboard-admin-phone-before.png'), fullPage: true });

  fhir.clearRejections();
  const retry = page.locator('.retry-one').first();
  t.ok(await retry.isVisible(), 'an admin has a replay button');
  t.ok(await page.locator('#retry-all').isVisible(), 'and a bulk replay');
  await retry.click();
  await page.locator('#retry-status', { hasText: 'Catatan dikirim ulang.' }).waitFor();
  // the record goes out; the page shows it after a refresh
  await waitFor(async () => {
    await page.click('#refresh');
    await page.waitForTimeout(300);
    return page.locator('#failures-empty').isVisible();
  }, 20_000, 'failures list empty');
  const cards = await page.locator('#cards').textContent();
  t.match(cards, /Gagal\s*/);
  t.match(await page.locator('#areas tbody tr').first().textContent(), /Baik/);
  await page.screenshot({ path: join(artifacts, 'dashboard-admin-phone-after.png'), fullPage: true });
  t.same(foreign, []);
  await context.close();
});

t.test('a wrong key is told so on the login form', async (t) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${gw.url}/dashboard/`);
  await page.fill('#key', 'gbk_wrong');
  await page.click('#login-form button[type=submit]');
  const error = page.locator('#login-error');
  await error.filter({ hasText: /\S/ }).waitFor();
  t.match(await error.textContent(), /Kunci API tidak dikenal/, 'the login form shows the reason');
  t.equal(await page.locator('#main').isVisible(), false, 'and nothing else');
  await context.close();
});
