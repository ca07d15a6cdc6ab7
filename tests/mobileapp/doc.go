// Package mobileapp holds the mobilizers' app's tests: the unit tests of its
// outbox, flush and forms (outbox.test.mjs, Node's test runner with
// fake-indexeddb) and its end-to-end tests in Debian's Chromium against the
// real server (e2e.test.mjs, playwright-core), both run by this package's Go
// test so that `go test ./...` runs them. It is a package of its own so that
// the browser's minutes do not count against the other end-to-end tests'
// time limit.
package mobileapp
