// Flushing the outbox through POST /v1/sync: in order, in batches, gzipped,
// each entry with its own idempotency key so that a batch resent after a
// lost answer writes nothing twice. What each answer means for the entry:
//
//   2xx                 done: the entry leaves the outbox
//   409, 412            conflict: the record changed on the server; the
//                       mobilizer sees its current state and redoes or discards
//   400, 403, 404, 422  refused: the problem's message and field are shown
//   401                 the user's access was withdrawn: stop everything
//   anything else       retried later with backoff; an entry that keeps
//                       failing is set aside (held) so the rest still flow
//
// The module is plain: it takes the store, fetch and a clock, so the unit
// tests drive it with fake-indexeddb and a fake server.

import { PENDING, CONFLICT, REFUSED, HELD } from './store.mjs';

export const BATCH = 100;
export const MAX_ATTEMPTS = 5;

// gzipBody compresses s where the platform can (every browser the app
// supports, and Node); the server accepts both.
async function gzipBody(s) {
  if (typeof CompressionStream === 'undefined') return null;
  const stream = new Blob([s]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function readJSON(resp) {
  try {
    return await resp.json();
  } catch {
    return null;
  }
}

function recordIds(e) {
  const r = e.record || {};
  return [r.id, r.community].filter(Boolean);
}

// blockedByEarlier reports whether an entry still in the outbox before e
// touches the record e names: a 404 for e then means "wait for that one",
// not "refused".
function blockedByEarlier(e, remaining) {
  const mine = new Set(recordIds(e));
  return remaining.some((o) => o.seq < e.seq && (mine.has((o.record || {}).id)));
}

// flush sends every pending entry once. It answers what happened; the caller
// schedules the next attempt (report.retry) and shows conflicts and refusals.
//
// who is the signed-in user's id: an entry another user saved on this phone
// (a shared phone, a sign-out and a sign-in) is never sent with this user's
// token; it stays in the outbox, exportable.
export async function flush({ store, fetch, token, who = '', base = '', gzip = true, now = () => new Date(), batch = BATCH, onDone }) {
  const report = { sent: 0, done: 0, conflicts: 0, refused: 0, held: 0, retry: false, revoked: null, error: null };
  const tried = new Set();
  let size = batch;
  for (;;) {
    const all = await store.entries();
    const mine = (e) => !who || !e.who || e.who === who;
    const group = all.filter((e) => e.state === PENDING && !tried.has(e.seq) && mine(e)).slice(0, size);
    if (group.length === 0) break;

    const payload = JSON.stringify({
      occurred_at: now().toISOString(),
      items: group.map((e) => {
        const it = { key: e.key, method: e.method, path: e.path, body: e.body };
        if (e.if_match) it.if_match = e.if_match;
        return it;
      }),
    });
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
    let body = payload;
    if (gzip) {
      const z = await gzipBody(payload);
      if (z) {
        body = z;
        headers['Content-Encoding'] = 'gzip';
      }
    }
    let resp;
    try {
      resp = await fetch(`${base}/v1/sync`, { method: 'POST', headers, body });
    } catch (err) {
      report.error = 'network';
      report.retry = true;
      break;
    }
    report.sent += group.length;
    if (resp.status === 401) {
      report.revoked = (await readJSON(resp)) || { status: 401 };
      break;
    }
    if (resp.status === 413 && size > 1) {
      size = Math.max(1, Math.floor(size / 2));
      continue;
    }
    if (resp.status !== 200) {
      const problem = await readJSON(resp);
      const m = problem && typeof problem.field === 'string' && /^items\[(\d+)\]/.exec(problem.field);
      if (resp.status === 400 && m && group[Number(m[1])]) {
        // The batch names the one entry that makes it malformed: set that
        // one aside as refused and send the rest.
        const bad = group[Number(m[1])];
        await store.put({ ...bad, state: REFUSED, problem });
        report.refused++;
        continue;
      }
      report.error = resp.status >= 500 || resp.status === 429 ? 'server' : `status ${resp.status}`;
      report.retry = true;
      for (const e of group) {
        const attempts = (e.attempts || 0) + 1;
        const state = attempts >= MAX_ATTEMPTS ? HELD : PENDING;
        if (state === HELD) report.held++;
        await store.put({ ...e, attempts, state, problem: problem || { status: resp.status } });
      }
      break;
    }
    const answer = await readJSON(resp);
    const results = (answer && Array.isArray(answer.results)) ? answer.results : [];
    const settled = new Set();
    for (let i = 0; i < group.length; i++) {
      const e = group[i];
      tried.add(e.seq);
      const r = results[i];
      if (!r || r.key !== e.key) {
        report.retry = true;
        continue;
      }
      if (r.status >= 200 && r.status < 300) {
        await store.remove(e.seq);
        settled.add(e.seq);
        report.done++;
        if (onDone) await onDone(e, r);
        continue;
      }
      if (r.status === 401) {
        report.revoked = r.body || { status: 401 };
        return report;
      }
      if (r.status === 409 || r.status === 412) {
        await store.put({ ...e, state: CONFLICT, problem: r.body, status: r.status });
        report.conflicts++;
        continue;
      }
      if ([400, 403, 404, 422].includes(r.status)) {
        const remaining = (await store.entries()).filter((o) => !settled.has(o.seq));
        if (r.status === 404 && blockedByEarlier(e, remaining)) {
          const attempts = (e.attempts || 0) + 1;
          await store.put({ ...e, attempts, state: attempts >= MAX_ATTEMPTS ? HELD : PENDING, problem: r.body, status: r.status });
          report.retry = true;
          continue;
        }
        await store.put({ ...e, state: REFUSED, problem: r.body, status: r.status });
        report.refused++;
        continue;
      }
      const attempts = (e.attempts || 0) + 1;
      const state = attempts >= MAX_ATTEMPTS ? HELD : PENDING;
      if (state === HELD) report.held++;
      else report.retry = true;
      await store.put({ ...e, attempts, state, problem: r.body, status: r.status });
    }
  }
  return report;
}

// backoff answers how long to wait before the n-th retry (n ≥ 1): doubling
// from 5 s to at most 5 minutes, with jitter so that phones coming back
// online together do not knock at once.
export function backoff(n, random = Math.random) {
  const base = Math.min(300000, 5000 * 2 ** Math.max(0, n - 1));
  return Math.round(base * (0.75 + 0.5 * random()));
}
