// The web console in a real browser: sign in with a token, This week,
// sign out; every role's first page; JavaScript off; axe-core on every page.
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

test('the sign-in page', async () => {
  const page = await browser.context.newPage();
  const res = await page.goto(base + '/');
  assert.equal(res.status(), 200);
  assert.equal(await page.title(), 'Sign in · ActionLedger');
  const field = page.getByLabel('Token', { exact: true });
  assert.equal(await field.getAttribute('type'), 'password');
  await field.focus();
  await shot(page, '01-sign-in');
  await axe(page, 'sign-in');
  await page.close();
});

test('a coordinator signs in, sees This week for their district, and signs out', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.coordinator);
  await page.getByRole('heading', { level: 1, name: 'This week: Kenema' }).waitFor();
  const achieved = await page.locator('#achieved-rate').textContent();
  assert.match(achieved, /^\d+\.\d%$/, 'achieved rate shown as a percentage');
  assert.match(await page.locator('#implementation-rate').textContent(), /^\d+\.\d%$/);
  assert.match(await page.locator('#overdue').textContent(), /^\d+$/);
  assert.match(await page.locator('#trust-index').textContent(), /^(0|1)\.\d\d$/);
  assert.match(await page.getByText(/Signed in: Coordinator · Kenema/).textContent(), /Kenema/);
  await shot(page, '02-this-week-coordinator');
  await axe(page, 'This week (coordinator)');

  // Page weight: the page and its stylesheet, well under 100 KB.
  const html = await (await page.request.get(base + '/')).body();
  const css = await (await page.request.get(base + '/assets/console.css')).body();
  assert.ok(html.length + css.length <= 100 * 1024, `This week weighs ${html.length + css.length} bytes`);

  // A small screen: nothing cut off, nothing to scroll sideways.
  await page.setViewportSize({ width: 360, height: 740 });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling at 360 px');
  await shot(page, '02b-this-week-small-screen');
  await page.setViewportSize({ width: 1024, height: 768 });

  await page.emulateMedia({ media: 'print' });
  await shot(page, '03-this-week-print');
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), false, 'no buttons on paper');
  await page.emulateMedia({ media: 'screen' });

  await signOut(page);
  await shot(page, '04-signed-out');
  // Signed out means signed out: the console's page is gone on reload.
  await page.goto(base + '/');
  assert.equal(await page.locator('#achieved-rate').count(), 0);
  await page.close();
});

test('a wrong token is refused on the form', async () => {
  const page = await browser.context.newPage();
  await signIn(page, 'alt_not-a-token');
  await page.getByRole('alert').getByText('That token was not accepted').waitFor();
  assert.equal(await page.getByLabel('Token', { exact: true }).getAttribute('aria-invalid'), 'true');
  await shot(page, '05-sign-in-refused');
  await axe(page, 'sign-in refused');
  await page.close();
});

test('an auditor sees the national figures', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.auditor);
  await page.getByRole('heading', { level: 1, name: 'This week: All districts' }).waitFor();
  await shot(page, '06-this-week-auditor');
  await axe(page, 'This week (auditor)');
  await signOut(page);
  await page.close();
});

test('a mobilizer is pointed to the mobilizers\' app', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.mobilizer);
  const link = page.getByRole('link', { name: 'Open the mobilizers\' app' });
  assert.equal(await link.getAttribute('href'), '/app/');
  await shot(page, '07-mobilizer');
  await axe(page, 'mobilizer');
  await signOut(page);
  await page.close();
});

test('an admin is told the indicators are not theirs', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.admin);
  await page.getByText('Your role does not read the indicators').waitFor();
  await shot(page, '08-admin');
  await axe(page, 'admin notice');
  await signOut(page);
  await page.close();
});

test('a form without its CSRF token is refused with a page that says so', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.coordinator);
  await page.locator('input[name="csrf"]').evaluate((el) => { el.value = 'forged'; });
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/sign-out')),
    page.getByRole('button', { name: 'Sign out' }).click(),
  ]);
  assert.equal(res.status(), 403);
  await page.getByText('nothing was changed').waitFor();
  await shot(page, '09-csrf-refused');
  await axe(page, 'CSRF refusal');
  await page.goto(base + '/');
  await page.locator('#achieved-rate').waitFor(); // still signed in
  await signOut(page);
  await page.close();
});

test('the keyboard alone signs in', async () => {
  const page = await browser.context.newPage();
  await page.goto(base + '/');
  // Tab from the top: the skip link, the brand, then the token field.
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement?.id) === 'token') break;
  }
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'token', 'Tab reaches the token field');
  await page.keyboard.type(tokens.coordinator);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'This week: Kenema' }).waitFor();
  await signOut(page);
  await page.close();
});
