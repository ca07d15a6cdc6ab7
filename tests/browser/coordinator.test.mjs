// The coordinators' pages in a real browser: the places scorecard drilled
// down district → chiefdom → community and back by the breadcrumb, the
// trends chart and its table, acting on a work-list item, and a change made
// meanwhile through the JSON API shown as a conflict, never lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, signIn, shot, axe, sameOrigin, base, tokens } from './lib.mjs';

let browser;
before(async () => { browser = await open(); });
after(async () => {
  sameOrigin(browser.requests);
  assert.deepEqual(browser.problems, [], 'the pages reported errors');
  await browser.close();
});

// api calls the JSON API as the demo's Kenema coordinator.
async function api(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${tokens.coordinator}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function weight(page, path) {
  const html = await (await page.request.get(base + path)).body();
  const css = await (await page.request.get(base + '/assets/console.css')).body();
  assert.ok(html.length + css.length <= 100 * 1024, `${path} weighs ${html.length + css.length} bytes`);
}

test('drill down the places: district, chiefdom, community, and back up', async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await signIn(page, tokens.coordinator);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Places' }).click();
  await page.getByRole('heading', { level: 1, name: 'Places: Kenema' }).waitFor();
  const table = page.getByRole('table', { name: 'Places in Kenema' });
  assert.equal(await table.getByRole('rowheader').count(), 2, 'the two chiefdoms of Kenema');
  await shot(page, '20-places-district');
  await axe(page, 'places (district)');
  await weight(page, '/places');

  await table.getByRole('link', { name: 'Nongowa', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Places: Nongowa, Kenema' }).waitFor();
  await shot(page, '21-places-chiefdom');
  const communities = page.getByRole('table', { name: /Communities in Nongowa/ });
  assert.ok(await communities.getByRole('rowheader').count() >= 2, 'the communities of Nongowa');
  await axe(page, 'places (chiefdom)');

  await communities.getByRole('rowheader').first().getByRole('link').click();
  await page.getByRole('heading', { level: 1, name: /^Community / }).waitFor();
  assert.ok(await page.getByRole('table', { name: /Every recorded event/ }).getByRole('row').count() > 2, 'the community has a history');
  await shot(page, '22-case-community');
  await axe(page, 'case (community)');

  await page.goBack();
  await page.getByRole('navigation', { name: 'Where you are' }).getByRole('link', { name: 'Kenema' }).click();
  await page.getByRole('heading', { level: 1, name: 'Places: Kenema' }).waitFor();

  await page.emulateMedia({ media: 'print' });
  await shot(page, '23-places-print');
  await page.emulateMedia({ media: 'screen' });
  await page.close();
});

test('trends: a chart drawn on the server, and its table', async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await signIn(page, tokens.coordinator);
  await page.goto(base + '/trends?district=Kenema&chiefdom=Nongowa');
  await page.getByRole('heading', { level: 1, name: 'Trends: Nongowa, Kenema' }).waitFor();
  const chart = page.getByRole('img', { name: /Weekly achieved rate/ });
  assert.equal(await chart.count(), 1, 'the chart is an image with a title');
  assert.ok(await page.locator('#trend-chart polyline').count() >= 3, 'lines are drawn');
  const rows = page.getByRole('table', { name: /Week by week/ }).getByRole('row');
  assert.ok(await rows.count() > 4, 'the table has the weeks');
  await shot(page, '24-trends');
  await axe(page, 'trends');
  await weight(page, '/trends?district=Kenema&chiefdom=Nongowa');
  await page.emulateMedia({ media: 'print' });
  await shot(page, '25-trends-print');
  await page.emulateMedia({ media: 'screen' });
  const csv = await page.request.get(base + '/trends?district=Kenema&chiefdom=Nongowa&format=csv');
  assert.match(await csv.text(), /^week,achieved_rate,implementation_rate,trust_index/);
  await page.close();
});

test('act on a work-list item, then see a conflict', async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await signIn(page, tokens.coordinator);
  await page.goto(base + '/work?status=open');
  await page.getByRole('heading', { level: 1, name: /^Action points to follow up/ }).waitFor();
  await shot(page, '26-work');
  await axe(page, 'work list');
  await weight(page, '/work');

  // Drop the first open one from the list.
  const row = page.getByRole('table', { name: /Action points/ }).getByRole('row').nth(1);
  const title = await row.getByRole('rowheader').textContent();
  await row.getByLabel('Reason').fill('done by the chiefdom task force');
  await row.getByRole('button', { name: 'Drop' }).click();
  await page.getByRole('status').getByText('The action point was dropped.').waitFor();
  assert.equal(await page.getByRole('rowheader', { name: title, exact: true }).count(), 0, 'the dropped item left the open list');

  // Open another, change it through the JSON API meanwhile, then submit.
  const next = page.getByRole('table', { name: /Action points/ }).getByRole('row').nth(1).getByRole('rowheader').getByRole('link');
  await next.click();
  await page.getByRole('heading', { level: 1, name: /^Action point / }).waitFor();
  const id = new URL(page.url()).pathname.split('/').pop();
  const changed = await api('POST', `/v1/action-points/${id}/drop`, { reason: 'changed elsewhere' });
  assert.equal(changed.status, 200, 'dropped through the API');
  await page.locator('#act-drop').getByLabel('Reason').fill('my reason');
  await page.locator('#act-drop').getByRole('button', { name: 'Drop' }).click();
  const alert = page.getByRole('alert');
  await alert.getByText('someone changed this case after you opened the page').waitFor();
  assert.equal(await page.locator('#case-status').textContent(), 'dropped', 'the current state is shown');
  // The page offers only what the dropped state and a coordinator's role allow.
  assert.equal(await page.locator('#act-drop').count(), 0, 'a dropped action point offers no Drop');
  assert.equal(await page.locator('#act-start').count(), 0, 'a coordinator is offered no Start');
  await page.locator('#act-reopen').waitFor();
  await shot(page, '27-case-conflict');
  await axe(page, 'case (conflict)');

  // Acting on the state now shown works: reopen it.
  await page.locator('#act-reopen').getByLabel('Reason').fill('still needed');
  await page.locator('#act-reopen').getByRole('button', { name: 'Reopen' }).click();
  await page.getByRole('status').getByText('The action point was reopened.').waitFor();
  const now = await api('GET', `/v1/action-points/${id}`);
  assert.notEqual(now.body.status, 'dropped');
  assert.equal(await page.locator('#act-reopen').count(), 0, 'a reopened action point offers no Reopen');
  await page.locator('#act-drop').waitFor();
  await shot(page, '28-case-reopened');
  await page.close();
});

test('the other work lists: referrals, feedback, concerns', async () => {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await signIn(page, tokens.coordinator);
  await page.goto(base + '/work');
  const tabs = page.getByRole('navigation', { name: 'Work lists' });
  for (const [name, heading, file] of [['Referrals waiting', /^Referrals waiting/, '29-referrals'], ['Feedback waiting', /^Feedback waiting/, '30-feedback'], ['Concerns', /^Concerns/, '31-concerns']]) {
    await tabs.getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    await shot(page, file);
    await axe(page, name);
  }
  await page.goto(base + '/work/referrals?all=true');
  await shot(page, '32-referrals-all');
  await axe(page, 'referrals (all)');
  await page.getByRole('table', { name: /Referrals/ }).getByRole('row').nth(1).getByRole('rowheader').getByRole('link').click();
  await page.getByRole('heading', { level: 1, name: /^Referral / }).waitFor();
  await shot(page, '33-case-referral');
  await axe(page, 'case (referral)');
  await page.goto(base + '/work/feedback?all=true');
  await page.getByRole('table', { name: /Feedback/ }).getByRole('row').nth(1).getByRole('rowheader').getByRole('link').click();
  await page.getByRole('heading', { level: 1, name: /^Feedback / }).waitFor();
  await shot(page, '34-case-feedback');
  await axe(page, 'case (feedback)');
  await page.emulateMedia({ media: 'print' });
  await shot(page, '35-case-feedback-print');
  await page.emulateMedia({ media: 'screen' });
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ['/work', '/places', '/trends']) {
    await page.goto(base + path);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth ? [] :
      [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap *'))
        .map((e) => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`));
    assert.deepEqual(wide, [], `no sideways scrolling at 360 px on ${path}`);
  }
  await shot(page, '36-trends-small-screen');
  await page.close();
});

test('the pages work with JavaScript off', async () => {
  const nojs = await open({ javaScript: false });
  try {
    const page = await nojs.context.newPage();
    await signIn(page, tokens.coordinator);
    for (const path of ['/places', '/trends', '/work']) {
      const res = await page.goto(base + path);
      assert.equal(res.status(), 200, path);
    }
    await page.goto(base + '/work?status=in_progress');
    await page.getByRole('table', { name: /Action points/ }).getByRole('row').nth(1).getByLabel('Reason').fill('no js');
    await page.getByRole('table', { name: /Action points/ }).getByRole('row').nth(1).getByRole('button', { name: 'Drop' }).click();
    await page.getByRole('status').getByText('The action point was dropped.').waitFor();
    sameOrigin(nojs.requests);
  } finally {
    await nojs.close();
  }
});
