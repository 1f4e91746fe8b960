// Package ruletest answers "what would MUTT do with this event?" without
// side effects: it normalizes the event as ingest would, runs the rules
// engine on a rule set, and describes the decision. `mutt rules test` and
// the dashboard's "test this event" box share it.
//
// It is pure: it must not import anything that talks to Redis or
// PostgreSQL (the caller loads the rule set).
package ruletest
