// Package configinput holds the checks of operator input to the
// configuration tables (alert rules, development hosts, device teams) that
// the REST API (internal/web) and the dashboard (internal/web/ui) share, so
// both refuse the same values with the same words.
//
// The checks are pure: they take values and return errors. The package uses
// only the store's row types and the rule engine's own validation; it must
// not import internal/web or its sub-packages, which import it.
package configinput
