// Shared helpers of the web console's browser tests. tests/browser_test.go
// boots the server and passes, in the environment: AL_URL, AL_TOKEN_<ROLE>,
// CHROMIUM (the browser binary) and AL_SCREENSHOTS (where to write).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

export const base = need('AL_URL');
export const tokens = {
  admin: need('AL_TOKEN_ADMIN'),
  coordinator: need('AL_TOKEN_COORDINATOR'),
  mobilizer: need('AL_TOKEN_MOBILIZER'),
  auditor: need('AL_TOKEN_AUDITOR'),
};
const shots = need('AL_SCREENSHOTS');

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through go test ./tests -run TestBrowser`);
  return v;
}

// open starts Debian's Chromium headless on a fresh profile and returns a
// browser context; close() also removes the profile. Every request the
// pages make is recorded, to check none leaves the server's origin.
export async function open({ javaScript = true } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'al-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: need('CHROMIUM'),
    headless: true,
    javaScriptEnabled: javaScript,
    viewport: { width: 1024, height: 768 },
    locale: 'en-GB',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const problems = [];
  context.on('page', (p) => watch(p, problems));
  for (const p of context.pages()) watch(p, problems);
  return {
    context,
    requests,
    problems,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

// watch records what a page's console says went wrong (a CSP refusal, a
// failed load): a clean page says nothing.
function watch(page, problems) {
  page.on('console', (m) => {
    // A refusal's status (401, 403) is logged as a failed load; the tests
    // assert those statuses themselves.
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) {
      problems.push(`${page.url()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
}

// signIn fills the form as a person would: the field labelled "Token", the
// button "Sign in".
export async function signIn(page, token) {
  await page.goto(base + '/');
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState('load');
}

export async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForLoadState('load');
  await page.getByLabel('Token', { exact: true }).waitFor();
}

// shot writes a full-page screenshot, named for the step.
export async function shot(page, name) {
  const path = join(shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

let axeSource;

// axe runs axe-core (from node_modules, never committed) on the page and
// fails on any serious or critical violation; lesser ones are logged.
export async function axe(page, name) {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol, which the page's CSP (no
  // scripts at all) does not govern.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const describe = (v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`;
  for (const v of result.violations.filter((v) => !['serious', 'critical'].includes(v.impact))) {
    console.log(`axe (${name}, not failing): ${describe(v)}`);
  }
  const bad = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(bad.map(describe), [], `axe-core on ${name}`);
}

// sameOrigin asserts every request went to the server under test.
export function sameOrigin(requests) {
  const origin = new URL(base).origin;
  const away = requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin);
  assert.deepEqual(away, [], 'requests left the server\'s origin');
}
