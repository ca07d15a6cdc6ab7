// The outbox and its flush, as the mobilizers' app runs them, against
// fake-indexeddb and a fake /v1/sync that answers the way the server does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { IDBFactory } from 'fake-indexeddb';

import { open, newId, backlog, PENDING, CONFLICT, REFUSED, HELD } from '../../api/mobileapp/static/store.mjs';
import { flush, backoff, MAX_ATTEMPTS } from '../../api/mobileapp/static/flush.mjs';
import { formById, entry, missing } from '../../api/mobileapp/static/forms.mjs';
import { tables, translator } from '../../api/mobileapp/static/strings.mjs';

async function freshStore() {
  return open(new IDBFactory(), 'test');
}

function item(n, extra = {}) {
  return { key: `k${n}`, method: 'POST', path: `/v1/communities/C${n}/visits`, body: { kind: 'follow_up', trust_rating: 4 }, record: { kind: 'community', id: `C${n}` }, ...extra };
}

// fakeServer records the items it receives and answers each with answer(it),
// which returns {status, body}; ids it has written are kept, so a resent key
// answers as a replay, as the server does.
function fakeServer(answer = () => ({ status: 201, body: { revision: 1 } })) {
  const seen = new Map();
  const calls = [];
  const fetch = async (url, init) => {
    assert.equal(url, '/v1/sync');
    assert.equal(init.method, 'POST');
    assert.match(init.headers.Authorization, /^Bearer /);
    const raw = init.headers['Content-Encoding'] === 'gzip' ? gunzipSync(Buffer.from(init.body)).toString() : init.body;
    const batch = JSON.parse(raw);
    calls.push(batch);
    const results = batch.items.map((it) => {
      if (seen.has(it.key)) return { key: it.key, ...seen.get(it.key), replayed: true };
      const a = answer(it);
      if (a.status >= 200 && a.status < 300) seen.set(it.key, a);
      return { key: it.key, ...a };
    });
    return new Response(JSON.stringify({ results }), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  return { fetch, calls, seen };
}

test('entries keep their order and survive reopening the database', async () => {
  const idb = new IDBFactory();
  let s = await open(idb, 'persist');
  for (let i = 1; i <= 3; i++) await s.add(item(i));
  s.db.close();
  s = await open(idb, 'persist');
  const all = await s.entries();
  assert.deepEqual(all.map((e) => e.key), ['k1', 'k2', 'k3']);
  assert.ok(all.every((e) => e.state === PENDING && e.attempts === 0));
  assert.equal(await s.unsent(), 3);
});

test('a flush sends everything in order, gzipped, and empties the outbox', async () => {
  const s = await freshStore();
  for (let i = 1; i <= 3; i++) await s.add(item(i));
  const srv = fakeServer();
  const r = await flush({ store: s, fetch: srv.fetch, token: 'tok' });
  assert.equal(r.done, 3);
  assert.equal(r.retry, false);
  assert.equal(await s.unsent(), 0);
  assert.deepEqual(srv.calls[0].items.map((i) => i.key), ['k1', 'k2', 'k3']);
});

test('batches split a long outbox and keep its order', async () => {
  const s = await freshStore();
  for (let i = 1; i <= 7; i++) await s.add(item(i));
  const srv = fakeServer();
  await flush({ store: s, fetch: srv.fetch, token: 'tok', batch: 3 });
  assert.deepEqual(srv.calls.map((c) => c.items.length), [3, 3, 1]);
  assert.deepEqual(srv.calls.flatMap((c) => c.items.map((i) => i.key)), ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
});

test('a lost answer is resent with the same keys and written once', async () => {
  const s = await freshStore();
  for (let i = 1; i <= 3; i++) await s.add(item(i));
  const srv = fakeServer();
  let drop = true;
  const lossy = async (url, init) => {
    const resp = await srv.fetch(url, init);
    if (drop) {
      drop = false;
      throw new TypeError('network error: the answer was lost');
    }
    return resp;
  };
  const first = await flush({ store: s, fetch: lossy, token: 'tok' });
  assert.equal(first.error, 'network');
  assert.equal(first.retry, true);
  assert.equal(await s.unsent(), 3, 'nothing leaves the outbox without an answer');
  const second = await flush({ store: s, fetch: lossy, token: 'tok' });
  assert.equal(second.done, 3);
  assert.equal(srv.seen.size, 3, 'the server holds each report once');
  assert.deepEqual(srv.calls[1].items.map((i) => i.key), srv.calls[0].items.map((i) => i.key));
});

test('each answer sets its own entry: done, conflict, refused, retried', async () => {
  const s = await freshStore();
  await s.add(item(1));
  await s.add(item(2, { if_match: '"3"' }));
  await s.add(item(3));
  await s.add(item(4));
  const answers = {
    k1: { status: 200, body: { revision: 2 } },
    k2: { status: 412, body: { code: 'precondition_failed', detail: 'the record changed' } },
    k3: { status: 400, body: { code: 'invalid', field: 'trust_rating', detail: 'trust_rating must be from 1 to 5' } },
    k4: { status: 503, body: { code: 'unavailable' } },
  };
  const srv = fakeServer((it) => answers[it.key]);
  const r = await flush({ store: s, fetch: srv.fetch, token: 'tok' });
  assert.equal(srv.calls[0].items[1].if_match, '"3"');
  assert.deepEqual({ done: r.done, conflicts: r.conflicts, refused: r.refused, retry: r.retry }, { done: 1, conflicts: 1, refused: 1, retry: true });
  const byKey = Object.fromEntries((await s.entries()).map((e) => [e.key, e]));
  assert.equal(byKey.k1, undefined);
  assert.equal(byKey.k2.state, CONFLICT);
  assert.equal(byKey.k3.state, REFUSED);
  assert.equal(byKey.k3.problem.field, 'trust_rating');
  assert.equal(byKey.k4.state, PENDING);
  assert.equal(byKey.k4.attempts, 1);
  // The next flush sends only what is still pending.
  const again = await flush({ store: s, fetch: srv.fetch, token: 'tok' });
  assert.deepEqual(srv.calls[1].items.map((i) => i.key), ['k4']);
  assert.equal(again.done, 0);
});

test('an entry that keeps failing is set aside and the rest still flow', async () => {
  const s = await freshStore();
  await s.add(item(1));
  await s.add(item(2));
  const srv = fakeServer((it) => (it.key === 'k1' ? { status: 500, body: { code: 'internal' } } : { status: 201, body: { revision: 1 } }));
  for (let i = 0; i < MAX_ATTEMPTS; i++) await flush({ store: s, fetch: srv.fetch, token: 'tok' });
  const left = await s.entries();
  assert.equal(left.length, 1);
  assert.equal(left[0].key, 'k1');
  assert.equal(left[0].state, HELD);
  const calls = srv.calls.length;
  await flush({ store: s, fetch: srv.fetch, token: 'tok' });
  assert.equal(srv.calls.length, calls, 'a held entry is not sent again until the mobilizer says so');
});

test('a 404 behind an unsent creation waits instead of being refused', async () => {
  const s = await freshStore();
  await s.add({ ...item(1), path: '/v1/communities', record: { kind: 'community', id: 'C9', community: 'C9' } });
  await s.add({ ...item(2), path: '/v1/communities/C9/visits', record: { kind: 'community', id: 'C9', community: 'C9' } });
  const srv = fakeServer((it) => (it.key === 'k1' ? { status: 503, body: {} } : { status: 404, body: { code: 'not_found' } }));
  await flush({ store: s, fetch: srv.fetch, token: 'tok' });
  const e = (await s.entries()).find((x) => x.key === 'k2');
  assert.equal(e.state, PENDING);
});

test('a malformed batch sets the named item aside and sends the rest', async () => {
  const s = await freshStore();
  await s.add(item(1));
  await s.add({ ...item(2), path: 'not a path' });
  await s.add(item(3));
  const inner = fakeServer();
  const fetch = async (url, init) => {
    const raw = gunzipSync(Buffer.from(init.body)).toString();
    const i = JSON.parse(raw).items.findIndex((x) => x.path === 'not a path');
    if (i >= 0) {
      return new Response(JSON.stringify({ code: 'invalid', field: `items[${i}].path`, detail: 'must be a path' }), { status: 400 });
    }
    return inner.fetch(url, init);
  };
  const r = await flush({ store: s, fetch, token: 'tok' });
  assert.equal(r.done, 2);
  const left = await s.entries();
  assert.deepEqual(left.map((e) => [e.key, e.state]), [['k2', REFUSED]]);
});

test("another user's entries are never sent with this user's token", async () => {
  const s = await freshStore();
  await s.add(item(1, { who: 'u-ann' }));
  await s.add(item(2, { who: 'u-bob' }));
  await s.add(item(3, { who: 'u-ann' }));
  const srv = fakeServer();
  const r = await flush({ store: s, fetch: srv.fetch, token: 'bob-token', who: 'u-bob' });
  assert.equal(r.done, 1);
  assert.deepEqual(srv.calls.flatMap((c) => c.items.map((i) => i.key)), ['k2']);
  assert.deepEqual((await s.entries()).map((e) => e.key), ['k1', 'k3']);
});

test('a withdrawn token stops the flush and keeps the outbox', async () => {
  const s = await freshStore();
  await s.add(item(1));
  await s.add(item(2));
  const fetch = async () => new Response(JSON.stringify({ code: 'user_deactivated', detail: 'lost phone', wipe: true }), { status: 401 });
  const r = await flush({ store: s, fetch, token: 'tok' });
  assert.equal(r.revoked.code, 'user_deactivated');
  assert.equal(r.revoked.wipe, true);
  assert.equal(await s.unsent(), 2);
});

test('wipe removes everything', async () => {
  const s = await freshStore();
  await s.add(item(1));
  await s.setMeta('token', 'tok');
  await s.setCache('communities', [{ id: 'C1' }]);
  await s.wipe();
  assert.equal(await s.unsent(), 0);
  assert.equal(await s.getMeta('token'), undefined);
  assert.equal(await s.getCache('communities'), undefined);
});

test('exported unsent entries are a backlog `actionledger sync --file` reads', async () => {
  const s = await freshStore();
  await s.add(item(1, { if_match: '"2"' }));
  await s.add(item(2));
  const lines = backlog(await s.entries()).trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { key: 'k1', method: 'POST', path: '/v1/communities/C1/visits', if_match: '"2"', body: { kind: 'follow_up', trust_rating: 4 } });
  assert.deepEqual(Object.keys(lines[1]).sort(), ['body', 'key', 'method', 'path']);
});

test('forms: a raised action point carries its own id so it can be started offline', () => {
  const now = new Date('2026-12-01T09:00:00Z');
  let n = 0;
  const ids = (p) => `${p || 'x'}-${++n}`;
  const raise = entry(formById('raise_ap'), { community: 'C1', title: 'Hand-washing stations', category: 'hygiene', kind: 'one_off', due_date: '2026-12-10' }, { now, newId: ids });
  assert.equal(raise.path, '/v1/action-points');
  assert.equal(raise.body.community_id, 'C1');
  assert.equal(raise.body.occurred_at, now.toISOString());
  assert.ok(raise.body.id);
  const start = entry(formById('start'), { action_point: raise.body.id, note: 'begun' }, { now, newId: ids, revisionOf: () => 1 });
  assert.equal(start.path, `/v1/action-points/${raise.body.id}/start`);
  assert.equal(start.if_match, '"1"');
  assert.notEqual(start.key, raise.key);
  assert.deepEqual(Object.keys(start.body).sort(), ['note', 'occurred_at']);
});

test('forms: a visit carries its concern and no if_match', () => {
  const e = entry(formById('visit'), { community: 'C1', kind: 'follow_up', trust_rating: '4', concern_need: 'security', concern_text: 'night patrols' },
    { now: new Date(), newId, revisionOf: () => 7 });
  assert.equal(e.body.trust_rating, 4);
  assert.deepEqual(e.body.concerns, [{ need: 'security', text: 'night patrols' }]);
  assert.equal(e.if_match, undefined);
  assert.deepEqual(missing(formById('visit'), { community: 'C1' }), ['kind', 'trust_rating']);
});

test('ids are accepted by the server (letters, digits, -; not starting with -)', () => {
  for (let i = 0; i < 100; i++) assert.match(newId('k'), /^[A-Za-z0-9][A-Za-z0-9-]*$/);
});

test('backoff doubles up to five minutes', () => {
  assert.equal(backoff(1, () => 0.5), 5000);
  assert.equal(backoff(2, () => 0.5), 10000);
  assert.equal(backoff(20, () => 0.5), 300000);
});

test('every language table uses only keys English has, and missing keys fall back', () => {
  for (const [lang, table] of Object.entries(tables)) {
    for (const k of Object.keys(table)) assert.ok(k in tables.en, `${lang}.${k} is not an English key`);
  }
  assert.equal(translator(['kri'])('save'), tables.kri.save ?? tables.en.save);
  assert.equal(translator(['fr-FR', 'en'])('token'), 'Token');
});
