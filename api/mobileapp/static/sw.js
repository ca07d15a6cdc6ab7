// The service worker keeps the app's shell on the phone so that it opens
// with no network at all. The server writes the version and the list of
// files in here; a new version replaces the whole shell at once. Calls to
// the API (/v1/) are never cached here: the app keeps its own data in
// IndexedDB, where it can tell what is unsent.
const VERSION = "__VERSION__";
const SHELL = ["__SHELL__"];
const CACHE = `actionledger-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('actionledger-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith('/app/')) return;
  // Pages open the shell (whatever the fragment or query); files come from
  // the cache first and from the network only when missing.
  const key = event.request.mode === 'navigate' ? '/app/' : url.pathname;
  event.respondWith(
    caches.open(CACHE).then((c) => c.match(key)).then((hit) => hit || fetch(event.request)),
  );
});
