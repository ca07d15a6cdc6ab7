// Package browser holds the web console's real-browser tests: the Go test
// boots the real server with the demo data set and runs the *.test.mjs files
// under node, which drive Debian's Chromium through playwright-core and check
// every page with axe-core. It is a package of its own so that its minutes
// in a real browser do not count against the other end-to-end tests' time
// limit. `npm ci` here installs the two pinned npm packages.
package browser
