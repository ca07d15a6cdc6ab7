// The mobilizers' app: screens over the outbox (store.mjs), the forms
// (forms.mjs) and the flush (flush.mjs). Everything is drawn with DOM calls
// and textContent, never HTML strings, so a hostile name typed into a record
// is shown as text.

import { open, newId, backlog, PENDING, CONFLICT, REFUSED, HELD } from './store.mjs';
import { flush, backoff } from './flush.mjs';
import { forms, formById, missing, entry } from './forms.mjs';
import { translator } from './strings.mjs';

const t = translator(navigator.languages || [navigator.language || 'en']);
document.documentElement.lang = t.lang;

const SYNC_EVERY = 60000;
const state = { store: null, token: null, me: null, syncing: false, failures: 0, timer: null, revoked: null };

// ---- small DOM helpers -------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') n.textContent = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) n.append(c);
  return n;
}

const main = () => document.getElementById('main');

function show(...nodes) {
  const m = main();
  m.replaceChildren(...nodes);
  const h = m.querySelector('h2');
  if (h) {
    h.tabIndex = -1;
    h.focus();
  }
}

function fmtTime(iso) {
  if (!iso) return t('never');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

// ---- server calls --------------------------------------------------------

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  if (r.status === 401) {
    await revoked(await r.json().catch(() => ({})));
    throw new Error('revoked');
  }
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

async function pages(path, max = 20) {
  const out = [];
  let cursor = '';
  for (let i = 0; i < max; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...(page.items || []));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out;
}

// refresh fills the cache from the server when online; each part on its
// own, so one route failing does not keep the others stale.
async function refresh() {
  if (!navigator.onLine || !state.token || state.revoked) return;
  const parts = {
    me: () => api('/v1/me'),
    places: () => api('/v1/places'),
    communities: () => pages('/v1/communities'),
    action_points: () => pages('/v1/action-points'),
    referrals: () => pages('/v1/referrals'),
    feedback: () => pages('/v1/feedback'),
  };
  for (const [k, fn] of Object.entries(parts)) {
    try {
      const v = await fn();
      await state.store.setCache(k, v);
      if (k === 'me') state.me = v;
    } catch (err) {
      if (err.message === 'revoked') return;
    }
  }
  await state.store.setMeta('refreshed_at', new Date().toISOString());
}

async function cached(k) {
  return (await state.store.getCache(k)) || [];
}

// records answers the cached records of a kind with the phone's own unsent
// creations added, each marked with whether something about it is unsent.
async function records(kind) {
  const key = { community: 'communities', action_point: 'action_points', referral: 'referrals', feedback: 'feedback' }[kind];
  const list = (await cached(key)).slice();
  const entries = await state.store.entries();
  const byId = new Map(list.map((r) => [r.id, r]));
  for (const e of entries) {
    if (!e.record || e.record.kind !== kind) continue;
    let r = byId.get(e.record.id);
    if (!r) {
      const b = e.body || {};
      r = { id: e.record.id, name: b.name, title: b.title, community_id: b.community_id, due_date: b.due_date, status: 'open', local: true };
      byId.set(r.id, r);
      list.push(r);
    }
    r.unsent = true;
  }
  return list;
}

async function revisionOf(kind, id) {
  const revs = (await state.store.getMeta('revisions')) || {};
  if (revs[`${kind}/${id}`] !== undefined) return revs[`${kind}/${id}`];
  const r = (await records(kind)).find((x) => x.id === id);
  return r && !r.local ? r.revision : undefined;
}

async function setRevision(kind, id, rev) {
  const revs = (await state.store.getMeta('revisions')) || {};
  revs[`${kind}/${id}`] = rev;
  await state.store.setMeta('revisions', revs);
}

// ---- status bar ------------------------------------------------------------

async function status() {
  const n = await state.store.unsent();
  const last = await state.store.getMeta('last_sync');
  const box = document.getElementById('status');
  box.replaceChildren(
    el('span', { id: 'unsent', text: `${t('unsent')}: ${n}` }),
    ' · ',
    el('span', { id: 'last-sync', text: `${t('last_sync')}: ${fmtTime(last)}` }),
    ' · ',
    el('span', { id: 'net', text: navigator.onLine ? t('online') : t('offline') }),
  );
  box.dataset.unsent = String(n);
}

// ---- sync ---------------------------------------------------------------------

async function sync() {
  if (!state.token || state.revoked) return;
  if (state.syncing) {
    // Something was saved while a flush ran: flush again when it ends.
    state.again = true;
    return;
  }
  state.again = false;
  state.syncing = true;
  document.getElementById('sync').textContent = t('syncing');
  try {
    const report = await flush({
      store: state.store, fetch: (...a) => fetch(...a), token: state.token, who: (state.me || {}).id || '',
      onDone: async (e, r) => {
        if (r.body && typeof r.body.revision === 'number') await setRevision(e.record.kind, e.record.id, r.body.revision);
      },
    });
    if (report.revoked) {
      await revoked(report.revoked);
      return;
    }
    if (!report.error) await state.store.setMeta('last_sync', new Date().toISOString());
    state.failures = report.retry ? state.failures + 1 : 0;
    await refresh();
  } finally {
    state.syncing = false;
    document.getElementById('sync').textContent = t('sync_now');
    await status();
    schedule();
    if (state.again) setTimeout(sync, 0);
    if (location.hash.startsWith('#/outbox') || location.hash === '' || location.hash === '#/') await route();
  }
}

function schedule() {
  clearTimeout(state.timer);
  if (state.revoked || !state.token) return;
  const wait = state.failures > 0 ? backoff(state.failures) : SYNC_EVERY;
  state.timer = setTimeout(() => navigator.onLine && sync(), wait);
}

async function revoked(problem) {
  state.revoked = problem || {};
  clearTimeout(state.timer);
  if (problem && problem.wipe) {
    await state.store.wipe();
    state.token = null;
    // Nothing is left to sync, export or sign out of: the header's buttons
    // go, and the phone can be handed to someone with a token of their own.
    state.revoked = null;
    document.body.classList.remove('signed-in');
    show(el('h2', { text: t('revoked_title') }), el('p', { text: t('wiped') }),
      el('button', { type: 'button', onclick: () => signIn(), text: t('sign_in') }));
    await status();
    return;
  }
  await state.store.setMeta('revoked', state.revoked);
  // Sync and the screens are closed to a withdrawn user: what is left is to
  // export the unsent reports, or sign out.
  document.body.classList.add('revoked');
  show(
    el('h2', { text: t('revoked_title') }),
    el('p', { role: 'alert', text: `${t('revoked_help')}${problem && problem.detail ? ` (${problem.detail})` : ''}` }),
    el('button', { type: 'button', onclick: exportUnsent, text: t('export_unsent') }),
  );
}

async function exportUnsent() {
  const text = backlog(await state.store.entries());
  const a = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' })), download: `unsent-${new Date().toISOString().slice(0, 10)}.ndjson` });
  document.body.append(a);
  a.click();
  a.remove();
}

// ---- screens -------------------------------------------------------------------

function signIn(message) {
  const input = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true });
  const form = el('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      await start(token);
    },
  },
  el('label', { for: 'token', text: t('token') }), input,
  el('button', { type: 'submit', text: t('sign_in') }));
  show(el('h2', { text: t('sign_in_title') }), el('p', { text: t('sign_in_help') }), message ? el('p', { role: 'alert', text: message }) : null, form);
}

async function start(token) {
  if (navigator.onLine) {
    const r = await fetch('/v1/me', { headers: { Authorization: `Bearer ${token}` } }).catch(() => null);
    if (r && r.status === 401) {
      const p = await r.json().catch(() => ({}));
      signIn(p.detail || p.title || '401');
      return;
    }
    if (r && r.ok) state.me = await r.json();
  }
  state.token = token;
  state.revoked = null;
  document.body.classList.remove('revoked');
  await state.store.setMeta('token', token);
  await state.store.setMeta('revoked', null);
  if (state.me) await state.store.setCache('me', state.me);
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  document.body.classList.add('signed-in');
  location.hash = '#/';
  await route();
  sync();
}

async function home() {
  const me = state.me || (await state.store.getCache('me')) || {};
  const who = me.id ? `${t('signed_in_as')} ${me.name || me.id} (${[me.district, me.chiefdom].filter(Boolean).join(', ')})` : '';
  const list = el('ul', { class: 'forms' }, forms.map((f) => el('li', {}, el('a', { href: `#/form/${f.id}`, text: t(f.title) }))));
  show(el('h2', { text: t('record') }), who ? el('p', { text: who }) : null, list);
}

async function communities() {
  const list = await records('community');
  list.sort((a, b) => String(a.name || a.id).localeCompare(String(b.name || b.id)));
  show(el('h2', { text: t('communities') }),
    list.length === 0 ? el('p', { text: t('no_items') }) : el('ul', { class: 'records' }, list.map((c) => el('li', {},
      el('strong', { text: c.name || c.id }), ' ',
      el('span', { text: [c.chiefdom, c.section, c.status ? t(c.status) : ''].filter(Boolean).join(' · ') }),
      c.unsent ? el('span', { class: 'unsent', text: ` (${t('not_sent')})` }) : null,
      ' ', el('a', { href: `#/form/visit?community=${encodeURIComponent(c.id)}`, text: t('form_visit') })))));
}

function overdueFirst(a, b) {
  const today = new Date().toISOString().slice(0, 10);
  const oa = a.due_date && a.due_date < today && !['achieved', 'dropped'].includes(a.status);
  const ob = b.due_date && b.due_date < today && !['achieved', 'dropped'].includes(b.status);
  if (oa !== ob) return oa ? -1 : 1;
  return String(a.due_date || '9999').localeCompare(String(b.due_date || '9999'));
}

// NEXT are the steps offered from each status (PRODUCT.md's lifecycle);
// the server still decides, this only keeps the list short.
const NEXT = {
  open: ['start', 'drop'],
  in_progress: ['progress', 'achieve', 'drop'],
  achieved: ['reopen'],
  dropped: ['reopen'],
};

async function actionPoints() {
  const list = (await records('action_point')).filter((a) => !['achieved', 'dropped'].includes(a.status));
  list.sort(overdueFirst);
  const today = new Date().toISOString().slice(0, 10);
  show(el('h2', { text: t('action_points') }),
    list.length === 0 ? el('p', { text: t('no_items') }) : el('ul', { class: 'records' }, list.map((a) => {
      const late = a.due_date && a.due_date < today;
      return el('li', { class: late ? 'overdue' : null },
        el('strong', { text: a.title || a.id }), ' ',
        el('span', { text: [a.community_name || a.community_id, a.status ? t(a.status) : '', a.due_date ? `${late ? t('overdue') : t('due')} ${a.due_date}` : ''].filter(Boolean).join(' · ') }),
        a.unsent ? el('span', { class: 'unsent', text: ` (${t('not_sent')})` }) : null,
        el('span', { class: 'actions' }, (NEXT[a.status] || NEXT.open).map((act) =>
          el('a', { href: `#/form/${act}?action_point=${encodeURIComponent(a.id)}`, text: t(formById(act).title) }))));
    })));
}

async function outbox() {
  const entries = await state.store.entries();
  const items = entries.map((e) => {
    const li = el('li', { class: `state-${e.state}` },
      el('strong', { text: t(formById(e.form) ? formById(e.form).title : e.path) }), ' ',
      el('span', { text: `${e.record ? e.record.id : ''} · ${fmtTime(e.created_at)} · ${t(`state_${e.state}`)}` }));
    if (e.problem && e.state !== PENDING) {
      const p = e.problem;
      li.append(el('p', { class: 'problem', role: e.state === REFUSED ? 'alert' : null, text: [p.detail || p.title, p.field ? `(${p.field})` : ''].filter(Boolean).join(' ') }));
    }
    if (e.state === CONFLICT) {
      const now = el('pre', { class: 'server-state' });
      li.append(el('p', { text: t('server_now') }), now);
      currentState(e).then((s) => { now.textContent = s; });
      li.append(el('button', { type: 'button', onclick: () => redo(e), text: t('redo') }));
    }
    if (e.state === HELD) li.append(el('button', { type: 'button', onclick: () => retry(e), text: t('retry') }));
    if (e.state !== PENDING) li.append(el('button', { type: 'button', onclick: () => discard(e), text: t('discard') }));
    return li;
  });
  show(el('h2', { text: t('outbox') }), entries.length === 0 ? el('p', { text: t('no_items') }) : el('ul', { class: 'records' }, items));
}

const readPath = { community: 'communities', action_point: 'action-points', referral: 'referrals', feedback: 'feedback' };

async function currentState(e) {
  if (!navigator.onLine) return t('offline');
  try {
    const v = await api(`/v1/${readPath[e.record.kind]}/${encodeURIComponent(e.record.id)}`);
    await setRevision(e.record.kind, e.record.id, v.revision);
    return Object.entries(v).filter(([, x]) => typeof x !== 'object').map(([k, x]) => `${k}: ${x}`).join('\n');
  } catch (err) {
    return String(err.message);
  }
}

// redo sends the same change again against the record as it is now: a new
// key (the old one is bound to the refused request) and the revision just read.
async function redo(e) {
  const rev = await revisionOf(e.record.kind, e.record.id);
  const next = { ...e, key: newId('k'), state: PENDING, attempts: 0, problem: null };
  if (rev !== undefined) next.if_match = `"${rev}"`;
  await state.store.put(next);
  await status();
  sync();
}

async function retry(e) {
  await state.store.put({ ...e, state: PENDING, attempts: 0 });
  await status();
  sync();
}

async function discard(e) {
  await state.store.remove(e.seq);
  await status();
  await outbox();
}

// ---- forms -------------------------------------------------------------------

async function options(kind, values) {
  if (kind === 'district' || kind === 'chiefdom') {
    const places = (await state.store.getCache('places')) || {};
    const districts = places.districts || [];
    if (kind === 'district') return districts.map((d) => [d.name, d.name]);
    const d = districts.find((x) => x.name === values.district) || (districts.length === 1 ? districts[0] : null);
    return d ? (d.chiefdoms || []).map((c) => [c.name, c.name]) : [];
  }
  const recs = await records(kind);
  const open = kind === 'action_point' ? recs : recs.filter((r) => !['closed', 'cancelled', 'loop_closed'].includes(r.status));
  return open.map((r) => [r.id, `${r.name || r.title || r.text || r.id}${r.unsent ? ` (${t('not_sent')})` : ''}`]);
}

async function formScreen(id, params) {
  const form = formById(id);
  if (!form) return home();
  const values = Object.fromEntries(params);
  // A change to a record the phone can read now is made against the
  // revision read here (sent as if_match), so a change someone else made
  // meanwhile comes back as a conflict rather than being overwritten.
  if (form.ifMatch && values[form.target] && navigator.onLine) {
    try {
      const v = await api(`/v1/${readPath[form.record]}/${encodeURIComponent(values[form.target])}`);
      await setRevision(form.record, v.id, v.revision);
    } catch (err) {
      if (err.message === 'revoked') return;
    }
  }
  let controls = [];
  const fieldset = el('div', {});
  const collect = () => { for (const [name, input] of controls) values[name] = input.value; };
  // render reads the pickers' options first (IndexedDB is asynchronous) and
  // only then swaps the fields in one step, taking up whatever was typed in
  // the old fields while the options loaded: a fast hand filling the next
  // field while a district's chiefdoms load must not lose what it typed.
  // The form is marked busy meanwhile; a render overtaken by a later one
  // (the district changed again) gives way to it.
  let formEl = null;
  let renders = 0;
  const render = async () => {
    const mine = ++renders;
    if (formEl) formEl.setAttribute('aria-busy', 'true');
    const shown = new Map(controls.map(([name, input]) => [name, input.value]));
    const opts = new Map();
    for (const f of form.fields) {
      if (f.kind === 'select') opts.set(f.name, f.options.map((o) => [o, f.raw ? o : t(o)]));
      else if (f.kind === 'yesno') opts.set(f.name, [['yes', t('yes')], ['no', t('no')]]);
      else if (['district', 'chiefdom', 'community', 'action_point', 'referral', 'feedback'].includes(f.kind)) opts.set(f.name, await options(f.kind, values));
    }
    if (mine !== renders) return;
    for (const [name, input] of controls) if (input.value !== shown.get(name)) values[name] = input.value;
    const next = [];
    const rows = [];
    for (const f of form.fields) {
      const fid = `f-${f.name}`;
      const label = el('label', { for: fid, text: t(f.label || `f_${f.name}`) + (f.required ? ' *' : '') });
      let input;
      const o = opts.get(f.name);
      if (f.kind !== 'select' && f.kind !== 'yesno' && o && o.length === 0) {
        // Nothing cached yet (a phone that has never synced): the code or
        // name is typed, and the server checks it.
        input = el('input', { id: fid, name: f.name, type: 'text', required: f.required, value: values[f.name] || '' });
      } else if (o) {
        input = el('select', { id: fid, name: f.name, required: f.required }, el('option', { value: '', text: t('choose') }),
          o.map(([v, text]) => el('option', { value: v, text, selected: values[f.name] === v })));
        if (f.kind === 'district') input.addEventListener('change', async () => { collect(); values.chiefdom = ''; await render(); });
      } else {
        const type = { number: 'number', date: 'date', datetime: 'datetime-local' }[f.kind] || 'text';
        input = el('input', { id: fid, name: f.name, type, required: f.required, min: f.min, value: values[f.name] || '' });
      }
      next.push([f.name, input]);
      rows.push(el('p', {}, label, input));
    }
    controls = next;
    fieldset.replaceChildren(...rows);
    if (formEl) formEl.removeAttribute('aria-busy');
  };
  await render();
  const msg = el('p', { id: 'form-message', role: 'status' });
  formEl = el('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      collect();
      const lack = missing(form, values);
      if (lack.length) {
        msg.textContent = lack.map((n) => `${t(`f_${n}`)} ${t('required')}`).join('; ');
        const first = controls.find(([n]) => n === lack[0]);
        if (first) first[1].focus();
        return;
      }
      const revs = {};
      if (form.ifMatch) revs[form.record] = await revisionOf(form.record, values[form.target]);
      const e = entry(form, values, { now: new Date(), newId, revisionOf: (k) => revs[k], who: (state.me || {}).id || '' });
      await state.store.add(e);
      // The next change to the same record expects the revision this one
      // will make (one event a command).
      if (e.if_match) await setRevision(form.record, e.record.id, Number(e.if_match.replaceAll('"', '')) + 1);
      msg.textContent = t('saved');
      await status();
      if (navigator.onLine) sync();
      formEl.reset();
    },
  }, fieldset, el('button', { type: 'submit', text: t('save') }), ' ', el('a', { href: '#/', text: t('cancel') }), msg);
  show(el('h2', { text: t(form.title) }), formEl);
}

// ---- routing and start ------------------------------------------------------

async function route() {
  if (!state.token) return signIn();
  if (state.revoked) return revoked(state.revoked);
  const [p, q] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(q || '');
  if (p.startsWith('/form/')) return formScreen(p.slice(6), params);
  if (p === '/communities') return communities();
  if (p === '/action-points') return actionPoints();
  if (p === '/outbox') return outbox();
  return home();
}

function chrome() {
  document.getElementById('title').textContent = t('app_name');
  const nav = document.getElementById('nav');
  nav.replaceChildren(
    el('a', { href: '#/', text: t('home') }),
    el('a', { href: '#/communities', text: t('communities') }),
    el('a', { href: '#/action-points', text: t('action_points') }),
    el('a', { href: '#/outbox', text: t('outbox') }),
  );
  const sb = document.getElementById('sync');
  sb.textContent = t('sync_now');
  sb.addEventListener('click', () => sync());
  const ex = document.getElementById('export');
  ex.textContent = t('export_unsent');
  ex.addEventListener('click', exportUnsent);
  const so = document.getElementById('signout');
  so.textContent = t('sign_out');
  so.addEventListener('click', async () => {
    state.token = null;
    await state.store.setMeta('token', null);
    document.body.classList.remove('signed-in');
    location.hash = '#/';
    signIn();
  });
}

async function boot() {
  state.store = await open();
  chrome();
  // A token in the fragment (the QR code's link) signs in; the fragment never
  // reaches a server log, and is removed from the address bar at once.
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    history.replaceState(null, '', location.pathname);
    await start(decodeURIComponent(m[1]));
  } else {
    state.token = await state.store.getMeta('token');
    state.revoked = await state.store.getMeta('revoked');
    state.me = await state.store.getCache('me');
    if (state.token) document.body.classList.add('signed-in');
    await route();
    sync();
  }
  await status();
  addEventListener('hashchange', route);
  addEventListener('online', () => { status(); sync(); });
  addEventListener('offline', status);
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
}

boot();
