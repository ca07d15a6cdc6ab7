// The mobilizers' app in Debian's Chromium, against the real server behind
// a proxy that tests/mobileapp_test.go lets us switch off (every connection
// cut, the service worker's too) or make drop the answer to the next sync.
// Run by TestMobileAppInBrowser, which passes the addresses and tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const { APP_URL, CONTROL_URL, API_URL, TOKENS, CHROMIUM, SCREENSHOTS } = process.env;
if (!APP_URL) throw new Error('run through `go test ./tests -run TestMobileAppInBrowser`');
const tokens = JSON.parse(TOKENS);
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

async function control(what) {
  const r = await fetch(`${CONTROL_URL}/?do=${what}`);
  return r.json();
}

async function api(method, path, token, body) {
  const r = await fetch(`${API_URL}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

async function events(stream) {
  const r = await api('GET', `/v1/streams/${stream}/events?limit=1000`, tokens.auditor);
  assert.equal(r.status, 200, r.text);
  return r.json.events || r.json.items;
}

// eventually polls cond until it holds, for at most 20 s.
async function eventually(cond, what) {
  const end = Date.now() + 20000;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting until ${what}`);
}

async function launch(dir) {
  return chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 412, height: 900 } });
}

async function shot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function unsent(page) {
  return Number(await page.locator('#status').getAttribute('data-unsent'));
}

async function waitUnsent(page, n, timeout = 20000) {
  try {
    await page.waitForFunction((want) => document.querySelector('#status')?.dataset.unsent === String(want), n, { timeout });
  } catch (err) {
    // Say what the outbox holds: the test's failure is then readable.
    const outbox = await page.evaluate(async () => {
      const { open } = await import('/app/store.mjs');
      return (await (await open()).entries()).map((e) => ({ path: e.path, state: e.state, attempts: e.attempts, status: e.status, problem: e.problem }));
    }).catch((e) => String(e));
    throw new Error(`${err.message}\nwanted ${n} unsent; the outbox holds ${JSON.stringify(outbox, null, 1)}`);
  }
}

async function goOffline(ctx) {
  await control('offline');
  await ctx.setOffline(true);
}

async function goOnline(ctx) {
  await control('online');
  await ctx.setOffline(false);
}

async function signIn(page, token) {
  await page.goto(`${APP_URL}/app/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Communities' }).waitFor();
  // The worker controls the page once it has precached the shell.
  await page.waitForFunction(async () => {
    const reg = await navigator.serviceWorker.ready;
    return !!reg.active && (await caches.keys()).some((k) => k.startsWith('actionledger-shell-'));
  });
}

// signOut waits for the sign-in form: the app clears the stored token before
// it shows the form, and a navigation any sooner could reload the page while
// the old token is still stored.
async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Token').waitFor();
}

// choose fills a labelled field, a picker or a typed one alike, then waits
// while the form is busy: choosing a district reloads the chiefdom picker,
// and the next field must be looked up in the form as it then stands.
async function choose(page, label, value) {
  const field = page.getByLabel(label, { exact: false });
  const tag = await field.evaluate((n) => n.tagName);
  if (tag === 'SELECT') await field.selectOption(value);
  else await field.fill(value);
  await page.locator('form[aria-busy]').waitFor({ state: 'detached' });
}

async function saveForm(page, form, fields) {
  await page.goto(`${APP_URL}/app/#/form/${form}`);
  await page.locator('form button[type=submit]').waitFor();
  for (const [label, value] of fields) await choose(page, label, value);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#form-message', { hasText: 'Saved' }).waitFor();
}

async function axe(page, name) {
  // Evaluated through the DevTools protocol: the app's CSP (rightly) refuses
  // inline scripts, and the check must not need the CSP loosened.
  await page.evaluate(axeSource);
  const res = await page.evaluate(async () => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${name}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), []);
}

let ctx;
let page;
const profile = mkdtempSync(join(tmpdir(), 'al-app-'));
const suffix = Date.now().toString(36);
const village = `E2E-${suffix}`;

before(async () => {
  ctx = await launch(profile);
  page = ctx.pages()[0] || (await ctx.newPage());
});

after(async () => {
  await control('online');
  if (ctx) await ctx.close();
});

test('the shell opens within 5 s on a 400 kbit/s, 400 ms link, and weighs at most 150 KB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'al-slow-'));
  const slow = await launch(dir);
  try {
    const p = slow.pages()[0] || (await slow.newPage());
    const cdp = await slow.newCDPSession(p);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 400, downloadThroughput: 400000 / 8, uploadThroughput: 400000 / 8 });
    const t0 = Date.now();
    await p.goto(`${APP_URL}/app/`, { waitUntil: 'load' });
    await p.getByLabel('Token').waitFor();
    const ms = Date.now() - t0;
    const bytes = await p.evaluate(() => performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
      .reduce((n, e) => n + (e.transferSize || 0), 0));
    console.log(`slow link: shell usable after ${ms} ms, ${bytes} bytes transferred`);
    assert.ok(ms <= 5000, `the shell took ${ms} ms on the slow link`);
    assert.ok(bytes <= 150 * 1024, `the shell transferred ${bytes} bytes`);
    await shot(p, 'app-sign-in');
    await axe(p, 'sign-in');
  } finally {
    await slow.close();
  }
});

test('first load, then reload offline: the app still opens', async () => {
  await signIn(page, tokens.mobilizer);
  await shot(page, 'app-home');
  await axe(page, 'home');
  await goOffline(ctx);
  await page.reload();
  await page.getByRole('link', { name: 'Communities' }).waitFor();
  // The status line is filled once the outbox has been counted from
  // IndexedDB, which may come after the navigation appears.
  await page.locator('#status', { hasText: /Unsent: 0/ }).waitFor({ timeout: 5000 }).catch(() => {});
  assert.match(await page.locator('#status').textContent(), /Unsent: 0/);
  await shot(page, 'app-offline-home');
});

test('three reports saved offline are sent once the network is back, exactly once each', async () => {
  // Still offline from the previous test.
  await saveForm(page, 'register', [['Name', 'E2E Village'], ['District', 'Kenema'], ['Chiefdom', 'Nongowa'], ['Section', 'Hangha'], ['Population', '420'], ['Code (optional)', village]]);
  await saveForm(page, 'trigger', [['Community', village], ['Attendance', '85']]);
  await saveForm(page, 'raise_ap', [['Community', village], ['Title', 'Hand-washing station at the well'], ['Category', 'hygiene'], ['Kind', 'one_off'], ['Due date', '2030-01-31']]);
  await waitUnsent(page, 3);
  await page.goto(`${APP_URL}/app/#/action-points`);
  await page.getByText('Hand-washing station at the well').waitFor();
  assert.match(await page.locator('main').textContent(), /not sent yet/);
  await shot(page, 'app-offline-unsent');
  await axe(page, 'action points');
  assert.equal((await api('GET', `/v1/communities/${village}`, tokens.coordinator)).status, 404, 'nothing reached the server while offline');

  await goOnline(ctx);
  await waitUnsent(page, 0);
  const evs = await events(`community-${village}`);
  assert.deepEqual(evs.map((e) => e.type.replace(/\.v\d+$/, '')), ['CommunityRegistered', 'CommunityTriggered']);
  const aps = await api('GET', `/v1/action-points?community_id=${village}`, tokens.coordinator);
  assert.equal(aps.status, 200, aps.text);
  assert.equal(aps.json.items.length, 1);
});

test('a sync whose answer is lost is resent and lands once', async () => {
  const before = (await events(`community-${village}`)).length;
  await control('drop-next-sync');
  await saveForm(page, 'visit', [['Community', village], ['Kind', 'follow_up'], ['Trust rating', '5'], ['Concern: unmet need', 'security'], ['Concern: what was said', 'night patrols']]);
  // The server handled the batch; the phone never heard back.
  await eventually(async () => (await control('status')).dropped === 1, 'the proxy dropped the answer');
  assert.equal(await unsent(page), 1);
  await page.getByRole('button', { name: 'Sync now' }).click();
  await waitUnsent(page, 0);
  const evs = await events(`community-${village}`);
  assert.equal(evs.length, before + 1, 'the resent visit was not written twice');
});

test('a change made on the server while the phone edits offline comes back as a conflict', async () => {
  const aps = await api('GET', `/v1/action-points?community_id=${village}`, tokens.coordinator);
  const id = aps.json.items[0].id;
  // The phone opens the form online (reading the revision), then loses the
  // network and saves.
  await page.goto(`${APP_URL}/app/#/form/start?action_point=${encodeURIComponent(id)}`);
  await page.getByRole('button', { name: 'Save' }).waitFor();
  await goOffline(ctx);
  await choose(page, 'Note', 'materials collected');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#form-message', { hasText: 'Saved' }).waitFor();
  const dropped = await api('POST', `/v1/action-points/${id}/drop`, tokens.coordinator, { reason: 'merged with the chiefdom plan' });
  assert.equal(dropped.status, 200, dropped.text);
  await goOnline(ctx);
  await page.getByRole('button', { name: 'Sync now' }).click();
  await page.goto(`${APP_URL}/app/#/outbox`);
  await page.getByText('conflict: someone changed this record').waitFor();
  await page.locator('.server-state', { hasText: 'dropped' }).waitFor();
  assert.equal(await unsent(page), 1, 'a conflict stays until the mobilizer decides');
  const ap = await api('GET', `/v1/action-points/${id}`, tokens.coordinator);
  assert.equal(ap.json.status, 'dropped', 'the phone did not overwrite the coordinator');
  await shot(page, 'app-conflict');
  await axe(page, 'outbox');
  await page.getByRole('button', { name: 'Discard' }).click();
  await waitUnsent(page, 0);
});

test('a malformed report is set aside while the rest land', async () => {
  const before = (await events(`community-${village}`)).length;
  await page.evaluate(async (v) => {
    const { open, newId } = await import('/app/store.mjs');
    const s = await open();
    const add = (rating) => s.add({ key: newId('k'), method: 'POST', path: `/v1/communities/${v}/visits`, body: { kind: 'follow_up', trust_rating: rating }, form: 'visit', record: { kind: 'community', id: v, community: v }, created_at: new Date().toISOString() });
    await add(9);
    await add(3);
  }, village);
  await page.getByRole('button', { name: 'Sync now' }).click();
  await waitUnsent(page, 1);
  await page.goto(`${APP_URL}/app/#/outbox`);
  await page.getByText('refused by the server').waitFor();
  assert.match(await page.locator('.problem').first().textContent(), /trust_rating/);
  assert.equal((await events(`community-${village}`)).length, before + 1);
  await shot(page, 'app-refused');
  await page.getByRole('button', { name: 'Discard' }).click();
  await waitUnsent(page, 0);
});

test('the outbox survives closing the browser and reopening it offline', async () => {
  await goOffline(ctx);
  await saveForm(page, 'visit', [['Community', village], ['Kind', 'follow_up'], ['Trust rating', '2']]);
  await waitUnsent(page, 1);
  await ctx.close();
  ctx = await launch(profile);
  await ctx.setOffline(true);
  page = ctx.pages()[0] || (await ctx.newPage());
  await page.goto(`${APP_URL}/app/`);
  await page.getByRole('link', { name: 'Communities' }).waitFor();
  await waitUnsent(page, 1);
  await shot(page, 'app-reopened-offline');
  await goOnline(ctx);
  await page.getByRole('button', { name: 'Sync now' }).click();
  await waitUnsent(page, 0);
});

test('a deactivated mobilizer is told to see their coordinator, and the unsent reports stay exportable', async () => {
  const created = await api('POST', '/v1/users', tokens.admin, { name: 'E2E mobilizer', role: 'mobilizer', district: 'Kenema', chiefdom: 'Nongowa' });
  assert.equal(created.status, 201, created.text);
  await signOut(page);
  await signIn(page, created.json.token);
  await goOffline(ctx);
  await saveForm(page, 'visit', [['Community', village], ['Kind', 'follow_up'], ['Trust rating', '3']]);
  const off = await api('POST', `/v1/users/${created.json.id}/deactivate`, tokens.admin, { reason: 'phone reported lost' });
  assert.equal(off.status, 200, off.text);
  await goOnline(ctx);
  await page.getByRole('button', { name: 'Sync now' }).click().catch(() => {});
  await page.getByText('Your access has been withdrawn').waitFor();
  assert.match(await page.locator('main').textContent(), /See your coordinator/);
  assert.equal(await page.getByRole('button', { name: 'Sync now' }).isVisible(), false, 'a withdrawn user is still offered Sync now');
  assert.equal(await unsent(page), 1);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export unsent' }).first().click()]);
  const file = readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(file.length, 1);
  assert.equal(file[0].path, `/v1/communities/${village}/visits`);
  await shot(page, 'app-revoked');
});

test('a deactivation that asks for a wipe erases what the phone holds', async () => {
  const created = await api('POST', '/v1/users', tokens.admin, { name: 'E2E lost phone', role: 'mobilizer', district: 'Kenema', chiefdom: 'Nongowa' });
  assert.equal(created.status, 201, created.text);
  await signOut(page);
  await signIn(page, created.json.token);
  // The withdrawn user's unsent report is still on the phone; it is never
  // sent with this user's token.
  const before = await unsent(page);
  assert.equal(before, 1);
  await saveForm(page, 'visit', [['Community', village], ['Kind', 'follow_up'], ['Trust rating', '4']]);
  await waitUnsent(page, before);
  const off = await api('POST', `/v1/users/${created.json.id}/deactivate`, tokens.admin, { reason: 'phone stolen', wipe: true });
  assert.equal(off.status, 200, off.text);
  await page.getByRole('button', { name: 'Sync now' }).click();
  await page.getByText("This phone's data was removed").waitFor();
  const left = await page.evaluate(async () => {
    const { open } = await import('/app/store.mjs');
    const s = await open();
    return { unsent: await s.unsent(), token: await s.getMeta('token'), communities: await s.getCache('communities') };
  });
  assert.deepEqual(left, { unsent: 0, token: undefined, communities: undefined });
  // Nothing is left to sync or export: the header offers neither.
  for (const name of ['Sync now', 'Export unsent', 'Sign out']) {
    assert.equal(await page.getByRole('button', { name }).isVisible(), false, `${name} is still offered on a wiped phone`);
  }
  await shot(page, 'app-wiped');
  await axe(page, 'wiped');
  // The phone can be handed on: someone else signs in with their own token.
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Token').waitFor();
});
