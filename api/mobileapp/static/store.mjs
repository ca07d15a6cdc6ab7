// The phone's durable state, in IndexedDB: the outbox of saved forms (what
// the mobilizer recorded and the server has not yet confirmed), a cache of
// what the server last said (communities, places, open items) for offline
// use, and a few settings (the token, the last sync).
//
// Every write commits with durability "strict" where the browser offers it:
// a report is only shown as saved once it is on the phone's storage, so a
// flat battery right after "Save" loses nothing.

export const DB_NAME = 'actionledger';
const DB_VERSION = 1;

// Outbox states. A pending entry is sent at the next sync; the others wait
// for the mobilizer (conflict, refused) or were set aside after failing
// again and again (held), so that the rest still flow.
export const PENDING = 'pending';
export const CONFLICT = 'conflict';
export const REFUSED = 'refused';
export const HELD = 'held';

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

// open opens (or creates) the database; idb is the IndexedDB factory (the
// browser's, or fake-indexeddb's in the unit tests).
export async function open(idb = globalThis.indexedDB, name = DB_NAME) {
  const r = idb.open(name, DB_VERSION);
  r.onupgradeneeded = () => {
    const db = r.result;
    const outbox = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
    outbox.createIndex('key', 'key', { unique: true });
    db.createObjectStore('cache', { keyPath: 'k' });
    db.createObjectStore('meta', { keyPath: 'k' });
  };
  return new Store(await request(r), idb, name);
}

export class Store {
  constructor(db, idb, name) {
    this.db = db;
    this.idb = idb;
    this.name = name;
  }

  tx(stores, mode) {
    try {
      return this.db.transaction(stores, mode, { durability: 'strict' });
    } catch {
      return this.db.transaction(stores, mode);
    }
  }

  // add appends an entry to the outbox and answers its sequence number,
  // which is the order the server will receive it in.
  async add(entry) {
    const tx = this.tx(['outbox'], 'readwrite');
    const seq = await request(tx.objectStore('outbox').add({ state: PENDING, attempts: 0, ...entry }));
    await committed(tx);
    return seq;
  }

  // entries answers the whole outbox in order.
  async entries() {
    const tx = this.tx(['outbox'], 'readonly');
    const all = await request(tx.objectStore('outbox').getAll());
    await committed(tx);
    return all.sort((a, b) => a.seq - b.seq);
  }

  async put(entry) {
    const tx = this.tx(['outbox'], 'readwrite');
    tx.objectStore('outbox').put(entry);
    await committed(tx);
  }

  async remove(seq) {
    const tx = this.tx(['outbox'], 'readwrite');
    tx.objectStore('outbox').delete(seq);
    await committed(tx);
  }

  // unsent counts what the server has not confirmed, whatever its state.
  async unsent() {
    const tx = this.tx(['outbox'], 'readonly');
    const n = await request(tx.objectStore('outbox').count());
    await committed(tx);
    return n;
  }

  async get(store, k) {
    const tx = this.tx([store], 'readonly');
    const row = await request(tx.objectStore(store).get(k));
    await committed(tx);
    return row ? row.v : undefined;
  }

  async set(store, k, v) {
    const tx = this.tx([store], 'readwrite');
    tx.objectStore(store).put({ k, v });
    await committed(tx);
  }

  getMeta(k) { return this.get('meta', k); }
  setMeta(k, v) { return this.set('meta', k, v); }
  getCache(k) { return this.get('cache', k); }
  setCache(k, v) { return this.set('cache', k, v); }

  // wipe deletes everything this app keeps on the phone: a deactivated
  // user's lost phone must not go on holding the community's data.
  async wipe() {
    const tx = this.tx(['outbox', 'cache', 'meta'], 'readwrite');
    for (const s of ['outbox', 'cache', 'meta']) tx.objectStore(s).clear();
    await committed(tx);
  }
}

// newId answers a random id the server accepts (letters, digits, '-'): the
// phone names what it creates, so an action point raised offline can be
// started offline too, and a resend never creates a second one.
export function newId(prefix = '') {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return prefix ? `${prefix}-${uuid}` : uuid;
}

// backlog renders the entries as the backlog file `actionledger sync --file`
// accepts (a phone's own backlog: one sync item a line, no users), so a
// coordinator can rescue a broken phone's reports.
export function backlog(entries) {
  return entries
    .map((e) => {
      const item = { key: e.key, method: e.method, path: e.path };
      if (e.if_match) item.if_match = e.if_match;
      if (e.body !== undefined) item.body = e.body;
      return JSON.stringify(item) + '\n';
    })
    .join('');
}
