// Package tests holds actionledger's end-to-end tests: they boot the real
// server wiring (services/server) on a temporary data dir and a free port,
// or the real binary for crash tests, and drive it over HTTP as a user would.
package tests
