// Package ui is MUTT's operator dashboard: server-rendered HTML pages
// (overview, rules, development hosts, teams, event audit, config audit,
// dynamic config, dead-letter queues) built with html/template from assets
// embedded in the binary. Nothing needs a build step or a script framework;
// the only script is an optional auto-refresh of the overview.
//
// Browsers sign in by posting an API key, which is exchanged for a session
// kept in Redis and named by a random cookie (internal/web/auth); every state-changing form carries a
// CSRF token bound to that session. The package is mounted by internal/web
// as Deps.UI behind its middleware (security headers, correlation ids,
// body limit); it must not import internal/app or cmd/mutt.
package ui
