// Package configadmin is the audited writer of MUTT's dynamic configuration,
// shared by the REST API and the mutt config command: it reads the values
// straight from their backend (Redis, or the embedded database), validates
// changes against the dynconfig registry, and pairs every change with its
// config_audit_log row through the backend's compare-and-set, so that no
// value changes unrecorded and no row records a change that did not happen.
//
// It imports dynconfig and store only; it must not import the services.
package configadmin
