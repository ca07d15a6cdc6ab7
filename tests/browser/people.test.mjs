// The console's pages for people and the audit in a real browser: an admin
// adds a mobilizer and sees the token once with its QR code; a coordinator
// deactivates that mobilizer, whose token the API then refuses; the admin's
// operations; the auditor's as-of view, verify, exports and history.
// axe-core on every page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, signIn, signOut, shot, axe, sameOrigin, base, tokens } from './lib.mjs';

let browser;
before(async () => { browser = await open(); });
after(async () => {
  sameOrigin(browser.requests);
  assert.deepEqual(browser.problems, [], 'the pages reported errors');
  await browser.close();
});

const name = 'Browser Test Mobilizer';
let newToken;

async function me(page, token) {
  const res = await page.request.get(base + '/v1/me', { headers: { Authorization: `Bearer ${token}` } });
  return res.status();
}

test('an admin adds a mobilizer and sees the token once, with a QR code', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.admin);
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
  await shot(page, '20-users-admin');
  await axe(page, 'users (admin)');

  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Role', { exact: true }).last().selectOption('mobilizer');
  await page.getByLabel('District', { exact: true }).fill('Kenema');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('heading', { level: 1, name: 'New token' }).waitFor();
  newToken = (await page.locator('#new-token').textContent()).trim();
  assert.match(newToken, /^alt_/);
  const qr = page.getByRole('img', { name: 'QR code to sign in' });
  assert.equal(await qr.isVisible(), true, 'the QR code is shown');
  const box = await qr.boundingBox();
  assert.ok(box.width >= 200 && box.height >= 200, `the QR code is big enough to scan (${box.width}×${box.height})`);
  assert.equal(await page.locator('#app-link').getAttribute('href'), `${new URL(base).origin}/app/#token=${newToken}`);
  assert.equal(await me(page, newToken), 200, 'the new token works on the API');
  await shot(page, '21-new-token-qr');
  await axe(page, 'new token');

  // Shown once: the list does not show it again.
  await page.getByRole('link', { name: 'Back to the list' }).click();
  await page.getByRole('row', { name: new RegExp(name) }).waitFor();
  assert.equal(await page.getByText(newToken).count(), 0, 'the token is not shown again');
  await signOut(page);
  await page.close();
});

test('a coordinator deactivates the mobilizer, whose token then gets 401', async () => {
  assert.ok(newToken, 'the admin test made the mobilizer');
  const page = await browser.context.newPage();
  await signIn(page, tokens.coordinator);
  await page.getByRole('link', { name: 'Mobilizers' }).click();
  await page.getByRole('heading', { level: 1, name: 'Mobilizers' }).waitFor();
  const row = page.getByRole('row', { name: new RegExp(name) });
  await row.waitFor();
  for (const col of ['Items this week', 'Refused this week']) {
    await page.getByRole('columnheader', { name: col }).waitFor();
  }
  assert.match(await row.locator('[data-col="items-this-week"]').textContent(), /^\d+$/, 'items this week is a count');
  assert.match(await row.locator('[data-col="items-refused"]').textContent(), /^\d+$/, 'items refused is a count');
  await shot(page, '22-mobilizers-coordinator');
  await axe(page, 'mobilizers (coordinator)');
  // A phone: the list scrolls in its own box, the page never sideways.
  await page.setViewportSize({ width: 360, height: 740 });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling at 360 px');
  await shot(page, '22b-mobilizers-small-screen');
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.emulateMedia({ media: 'print' });
  await shot(page, '22c-mobilizers-print');
  await page.emulateMedia({ media: 'screen' });

  await row.getByLabel('Reason').fill('Phone lost <script>alert(1)</script>');
  await row.getByLabel('Wipe the phone\'s data').check();
  await row.getByRole('button', { name: 'Deactivate' }).click();
  await page.getByText(`${name} was deactivated`).waitFor();
  await shot(page, '23-deactivated');
  await axe(page, 'deactivated');
  assert.equal(await me(page, newToken), 401, 'the deactivated mobilizer\'s token is refused');

  await page.getByRole('link', { name: 'Back to the list' }).click();
  const after = page.getByRole('row', { name: new RegExp(name) });
  await after.getByText('Deactivated').waitFor();
  await after.getByText('Phone lost <script>alert(1)</script>').waitFor(); // shown as text
  await signOut(page);
  await page.close();
});

test('an admin sees the poison queue and rebuilds the read models', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.admin);
  await page.getByRole('link', { name: 'Operations' }).click();
  await page.getByRole('heading', { level: 1, name: 'Operations' }).waitFor();
  await axe(page, 'operations');
  await page.getByRole('button', { name: 'Rebuild now' }).click();
  await page.locator('#rebuild-report').getByText(/Rebuilt: \d+ events replayed/).waitFor();
  await shot(page, '24-operations-rebuilt');
  await axe(page, 'operations after a rebuild');
  await signOut(page);
  await page.close();
});

test('an auditor: as of a date on either basis, verify, exports and history', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.auditor);
  // Admin pages are not the auditor's.
  const res = await page.goto(base + '/users');
  assert.equal(res.status(), 403);
  await page.getByText('You may not see this').waitFor();

  await page.goto(base + '/');
  await page.getByRole('link', { name: 'As of' }).click();
  await axe(page, 'as of (form)');
  const tomorrow = new Date(Date.now() + 86400e3).toISOString().slice(0, 10);
  const today = new Date().toISOString().slice(0, 10);
  await page.getByLabel(/^Date/).fill(today);
  await page.getByLabel(/As occurred/).check();
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('#asof-meta').getByText(/basis occurred/).waitFor();
  assert.match(await page.locator('#achieved-rate').textContent(), /^(\d+\.\d%|no data)$/);
  await shot(page, '25-as-of');
  await axe(page, 'as of');
  // The figures are /v1/audit/as-of's.
  for (const basis of ['recorded', 'occurred']) {
    await page.goto(`${base}/as-of?at=${tomorrow}&basis=${basis}`);
    const api = await (await page.request.get(`${base}/v1/audit/as-of?at=${tomorrow}&basis=${basis}`,
      { headers: { Authorization: `Bearer ${tokens.auditor}` } })).json();
    assert.equal(Number(await page.locator('#referrals-total').textContent()), api.referrals.total);
    assert.match(await page.locator('#ap-counts').textContent(), new RegExp(`^${api.completion.total} action points`));
  }

  await page.getByRole('link', { name: 'Verify' }).click();
  await page.getByRole('button', { name: 'Verify now' }).click();
  await page.locator('#verify-result').getByText('The log is intact').waitFor();
  assert.match(await page.locator('#verify-hash').textContent(), /^[0-9a-f]{64}$/);
  await shot(page, '26-verify');
  await axe(page, 'verify');

  await page.getByRole('link', { name: 'Exports' }).click();
  await axe(page, 'exports');
  await shot(page, '27-exports');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^actionledger-export-\d+\.csv$/);

  await page.getByRole('link', { name: 'History' }).click();
  await page.getByLabel('Stream').fill('exports');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('cell', { name: 'ExportRecorded.v1' }).first().waitFor();
  await shot(page, '28-history');
  await axe(page, 'history');
  await signOut(page);
  await page.close();
});

test('with JavaScript off an admin adds a user and issues it a new token, each with its QR code', async () => {
  const off = await open({ javaScript: false });
  try {
    const page = await off.context.newPage();
    await signIn(page, tokens.admin);
    await page.goto(base + '/users');
    await page.getByLabel('Name', { exact: true }).fill('Browser Test Auditor');
    await page.getByLabel('Role', { exact: true }).last().selectOption('auditor');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('heading', { level: 1, name: 'New token' }).waitFor();
    const first = (await page.locator('#new-token').textContent()).trim();
    assert.equal(await page.getByRole('img', { name: 'QR code to sign in' }).isVisible(), true);

    await page.goto(base + '/users?role=auditor');
    await page.getByRole('button', { name: 'New token for Browser Test Auditor' }).click();
    await page.getByRole('heading', { level: 1, name: 'New token' }).waitFor();
    const second = (await page.locator('#new-token').textContent()).trim();
    assert.equal(await page.getByRole('img', { name: 'QR code to sign in' }).isVisible(), true);
    assert.notEqual(second, first);
    assert.equal(await me(page, first), 401, 'the replaced token is refused');
    assert.equal(await me(page, second), 200, 'the new token works');
    await shot(page, '29-new-token-no-javascript');
    sameOrigin(off.requests);
  } finally {
    await off.close();
  }
});
