// Package auth decides who is calling MUTT's web UI and REST API: a keyring
// of named API keys compared in constant time, a short fingerprint of a key
// for audit rows and logs (never the key itself), dashboard sessions kept in
// a SessionStore, Redis or the embedded database (a random id in the
// cookie, revoked at logout or when the key is rotated out), and CSRF
// tokens bound to a session.
//
// It must not import other MUTT packages besides secrets and config.
package auth
