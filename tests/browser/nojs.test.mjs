// The web console with JavaScript turned off: everything still works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, signIn, signOut, shot, sameOrigin, base, tokens } from './lib.mjs';

let browser;
before(async () => { browser = await open({ javaScript: false }); });
after(async () => {
  sameOrigin(browser.requests);
  await browser.close();
});

test('sign in, This week and sign out with JavaScript off', async () => {
  const page = await browser.context.newPage();
  await signIn(page, tokens.coordinator);
  await page.getByRole('heading', { level: 1, name: 'This week: Kenema' }).waitFor();
  assert.match(await page.locator('#achieved-rate').textContent(), /^\d+\.\d%$/);
  await shot(page, '10-this-week-no-javascript');
  await signOut(page);
  await page.goto(base + '/');
  assert.equal(await page.locator('#achieved-rate').count(), 0);
  await page.close();
});
