// Package redact removes credentials from what MUTT's HTTP services log
// about a request: query parameters named like a key, token or password
// lose their values, also inside URL-encoded values such as a dashboard
// sign-in's next=/x%3Fapi_key%3D…, however often they were encoded (up to a
// bound, past which the value is dropped whole). The web UI and the ingest
// API log requests through it.
//
// It must not import other MUTT packages.
package redact
