// Gerbang dashboard: a plain page over the status API, with the same keys. No framework, no CDN.
const KEY = 'gerbang.key';
const $ = (sel) => document.querySelector(sel);
const state = { me: null, summary: null, failures: [], offset: 0, more: false };

const STATE_WORDS = { queued: 'Antre', sending: 'Sedang dikirim', retrying: 'Dicoba lagi', 'waiting-identity': 'Menunggu identitas', synced: 'Terkirim', failed: 'Gagal' };
const HEALTH_WORDS = { ok: 'Baik', warning: 'Perhatian', problem: 'Masalah' };
const KIND_WORDS = { anthropometry: 'Penimbangan', 'anc-visit': 'Kunjungan ANC', immunization: 'Imunisasi', screening: 'Skrining' };

/** Builds an element; text is always set as text, never as HTML (reasons come from upstreams). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

async function api(path, opts = {}) {
  const key = sessionStorage.getItem(KEY);
  const headers = { accept: 'application/json', 'accept-language': 'id', ...(key ? { authorization: `Bearer ${key}` } : {}), ...(opts.body ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(path, { ...opts, headers });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const text = body?.issue?.map((i) => i.details?.text ?? i.diagnostics).join(' ') || `HTTP ${res.status}`;
    throw Object.assign(new Error(text), { status: res.status });
  }
  return body;
}

function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} detik lalu`;
  if (s < 5400) return `${Math.round(s / 60)} menit lalu`;
  if (s < 172800) return `${Math.round(s / 3600)} jam lalu`;
  return `${Math.round(s / 86400)} hari lalu`;
}

function duration(seconds) {
  if (seconds === undefined) return '–';
  if (seconds < 120) return `≤ ${seconds} detik`;
  if (seconds < 7200) return `≤ ${Math.round(seconds / 60)} menit`;
  if (seconds < 172800) return `≤ ${Math.round(seconds / 3600)} jam`;
  return `≤ ${Math.round(seconds / 86400)} hari`;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString('id-ID', { dateStyle: 'medium', timeStyle: 'short' }) : '–');
const health = (h) => el('span', { class: `health ${h}` }, HEALTH_WORDS[h] ?? h);

function showLogin(message) {
  $('#main').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = message ?? '';
}

async function start() {
  try {
    state.me = await api('/v1/me');
  } catch (err) {
    if (err.status === 401 || err.status === 403) return showLogin(err.status === 403 ? err.message : sessionStorage.getItem(KEY) ? err.message : '');
    return showLogin(err.message);
  }
  $('#login').hidden = true;
  $('#main').hidden = false;
  $('#who').textContent = `${state.me.keyId} · ${{ admin: 'admin', monitor: 'pemantau', submitter: 'pengirim' }[state.me.role] ?? state.me.role}`;
  for (const e of document.querySelectorAll('.admin-only')) e.hidden = state.me.role !== 'admin';
  await loadSummary();
}

async function loadSummary() {
  const upstream = $('#upstream').value;
  state.summary = await api(`/v1/sync/summary?days=14${upstream ? `&upstream=${encodeURIComponent(upstream)}` : ''}`);
  if (!upstream) fillUpstreams();
  fillRegions();
  render();
  await loadFailures(true);
  $('#updated').textContent = `Diperbarui ${new Date().toLocaleTimeString('id-ID')}`;
}

function current() {
  const name = $('#upstream').value;
  return state.summary.upstreams.find((u) => u.upstream === name) ?? state.summary.upstreams[0];
}

function fillUpstreams() {
  const sel = $('#upstream');
  sel.replaceChildren(...state.summary.upstreams.map((u) => el('option', { value: u.upstream }, u.upstream)));
}

function fillRegions() {
  const u = current();
  const reg = $('#regency');
  const keepReg = reg.value;
  reg.replaceChildren(el('option', { value: '' }, 'Semua'), ...u.regencies.map((r) => el('option', { value: r.code }, r.name)));
  reg.value = u.regencies.some((r) => r.code === keepReg) ? keepReg : '';
  const pk = $('#puskesmas');
  const keepPk = pk.value;
  const list = u.regencies.filter((r) => !reg.value || r.code === reg.value).flatMap((r) => r.puskesmas);
  pk.replaceChildren(el('option', { value: '' }, 'Semua'), ...list.map((p) => el('option', { value: p.code }, p.name)));
  pk.value = list.some((p) => p.code === keepPk) ? keepPk : '';
}

/** The area the pickers point at: everything, a regency, or a puskesmas. */
function selectedArea() {
  const u = current();
  const reg = u.regencies.find((r) => r.code === $('#regency').value);
  const pk = (reg ? reg.puskesmas : u.regencies.flatMap((r) => r.puskesmas)).find((p) => p.code === $('#puskesmas').value);
  return pk ?? reg ?? u.totals;
}

function render() {
  const u = current();
  const a = selectedArea();
  const card = (label, value, extra) => el('div', { class: 'card' }, el('div', { class: 'value' }, value), el('div', { class: 'label' }, label), extra ? el('div', { class: 'label' }, extra) : null);
  $('#cards').replaceChildren(
    card('Status wilayah', health(a.health)),
    card('Terkirim', a.counts.synced),
    card('Belum terkirim (antrean)', a.unsynced, a.oldestUnsyncedAt ? `tertua ${ago(a.oldestUnsyncedAt)}` : 'tidak ada antrean'),
    card('Gagal', a.counts.failed),
    card('Menunggu identitas', a.counts['waiting-identity']),
    card('Terakhir terkirim', a.lastSyncedAt ? ago(a.lastSyncedAt) : '–'),
    card('Lama sampai terkirim', duration(u.latencySeconds.p50), `95%: ${duration(u.latencySeconds.p95)}`),
  );

  const rows = [];
  const regs = u.regencies.filter((r) => !$('#regency').value || r.code === $('#regency').value);
  for (const r of regs) {
    for (const p of r.puskesmas.filter((p) => !$('#puskesmas').value || p.code === $('#puskesmas').value)) {
      rows.push(areaRow(p, 'puskesmas'));
      for (const y of p.posyandu) rows.push(areaRow(y, 'posyandu'));
    }
  }
  $('#areas tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 9, class: 'muted' }, 'Belum ada catatan di wilayah ini.'))]));
  renderTrend(u.days);
}

function areaRow(a, level) {
  const c = a.counts;
  return el('tr', { class: level, 'data-code': a.code },
    el('td', {}, a.name),
    el('td', {}, health(a.health)),
    el('td', { class: 'num' }, c.queued + c.sending),
    el('td', { class: 'num' }, c.retrying),
    el('td', { class: 'num' }, c['waiting-identity']),
    el('td', { class: 'num' }, c.failed),
    el('td', { class: 'num' }, c.synced),
    el('td', {}, a.oldestUnsyncedAt ? ago(a.oldestUnsyncedAt) : '–'),
    el('td', {}, ago(a.lastSyncedAt)));
}

function renderTrend(days) {
  const max = Math.max(1, ...days.map((d) => d.synced + d.failed));
  const bars = days.map((d) =>
    el('div', { class: 'day', title: `${d.date}: ${d.synced} terkirim, ${d.failed} gagal` },
      el('div', { class: 'bar failed', style: `height:${(d.failed / max) * 100}%` }),
      el('div', { class: 'bar synced', style: `height:${(d.synced / max) * 100}%` }),
      el('span', {}, d.date.slice(8, 10))));
  $('#trend').replaceChildren(...bars);
  $('#trend').scrollLeft = $('#trend').scrollWidth; // today first on a narrow screen
  if (!$('#trend-legend')) {
    $('#trend').after(el('p', { id: 'trend-legend', class: 'legend' },
      el('span', { class: 'swatch synced' }), ' terkirim · ', el('span', { class: 'swatch failed' }), ' gagal (per hari, WIB)'));
  }
}

async function loadFailures(reset) {
  if (reset) {
    state.failures = [];
    state.offset = 0;
  }
  const params = new URLSearchParams({ limit: '50', offset: String(state.offset), upstream: current().upstream });
  if ($('#puskesmas').value) params.set('puskesmas', $('#puskesmas').value);
  const page = await api(`/v1/sync/failures?${params}`);
  const regency = $('#regency').value;
  state.failures.push(...page.items.filter((i) => !regency || i.regency === regency));
  state.offset += 50;
  state.more = Boolean(page.links?.next);
  renderFailures();
}

function renderFailures() {
  const admin = state.me.role === 'admin';
  const rows = state.failures.map((f) =>
    el('tr', { 'data-id': f.id },
      el('td', { class: 'admin-only', hidden: !admin }, el('input', { type: 'checkbox', class: 'pick', value: f.id, 'aria-label': 'Pilih', onchange: updateSelection })),
      el('td', {}, when(f.receivedAt)),
      el('td', {}, f.posyandu),
      el('td', {}, KIND_WORDS[f.kind] ?? f.kind),
      el('td', {}, f.upstream),
      el('td', {}, STATE_WORDS[f.state] ?? f.state),
      el('td', { class: 'reason' }, f.reason.text),
      el('td', { class: 'num' }, f.attempts),
      el('td', { class: 'admin-only', hidden: !admin }, el('button', { type: 'button', class: 'retry-one', onclick: () => retryOne(f) }, 'Kirim ulang'))));
  $('#failures tbody').replaceChildren(...rows);
  $('#failures-empty').hidden = state.failures.length > 0;
  $('#failures-more').hidden = !state.more;
  updateSelection();
}

function updateSelection() {
  $('#retry-selected').disabled = document.querySelectorAll('.pick:checked').length === 0;
}

async function retryOne(f) {
  try {
    await api(`/v1/records/${encodeURIComponent(f.id)}/$retry?upstream=${encodeURIComponent(f.upstream)}`, { method: 'POST' });
    $('#retry-status').textContent = 'Catatan dikirim ulang.';
  } catch (err) {
    $('#retry-status').textContent = err.message;
  }
  await loadSummary();
}

async function retrySelected() {
  const ids = [...document.querySelectorAll('.pick:checked')].map((c) => c.value);
  let ok = 0;
  for (const id of ids) {
    const f = state.failures.find((x) => x.id === id);
    try {
      await api(`/v1/records/${encodeURIComponent(id)}/$retry?upstream=${encodeURIComponent(f.upstream)}`, { method: 'POST' });
      ok += 1;
    } catch { /* counted below */ }
  }
  $('#retry-status').textContent = `${ok} dari ${ids.length} catatan dikirim ulang.`;
  await loadSummary();
}

async function retryAll() {
  const body = { upstream: current().upstream, state: 'failed', ...($('#puskesmas').value ? { puskesmas: $('#puskesmas').value } : {}) };
  try {
    const task = await api('/v1/records/$retry', { method: 'POST', body: JSON.stringify(body) });
    $('#retry-status').textContent = 'Pengiriman ulang dimulai…';
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const t = await api(`/v1/replays/${task.id}`);
      if (t.status === 'done') {
        $('#retry-status').textContent = `${t.replayed} catatan dikirim ulang.`;
        break;
      }
    }
  } catch (err) {
    $('#retry-status').textContent = err.message;
  }
  await loadSummary();
}

document.addEventListener('DOMContentLoaded', () => {
  $('#login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $('#key').value.trim());
    $('#key').value = '';
    void start();
  });
  $('#logout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showLogin();
  });
  $('#upstream').addEventListener('change', () => void loadSummary());
  $('#regency').addEventListener('change', () => { fillRegions(); render(); void loadFailures(true); });
  $('#puskesmas').addEventListener('change', () => { render(); void loadFailures(true); });
  $('#refresh').addEventListener('click', () => void loadSummary());
  $('#failures-more').addEventListener('click', () => void loadFailures(false));
  $('#retry-selected').addEventListener('click', () => void retrySelected());
  $('#retry-all').addEventListener('click', () => void retryAll());
  $('#select-all').addEventListener('change', (e) => {
    for (const c of document.querySelectorAll('.pick')) c.checked = e.target.checked;
    updateSelection();
  });
  void start();
});
