// Package web is MUTT's web UI service: the REST API under /api/v1 and
// /api/v2 (rules, development hosts, device teams, dynamic config, audit
// trails, ingest rates, SLO report, version), its versioning headers,
// authentication, request limits, logs and metrics, plus /health and
// /metrics. The dashboard's pages live in the ui sub-package and are mounted
// through Deps.UI.
//
// It reads and writes through store, configadmin, ratestats and slo, and
// checks rule, host and team input with configinput (as the dashboard
// does); it must not import alerter, ingest, forward or app.
package web
