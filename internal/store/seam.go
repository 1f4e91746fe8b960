package store

// This file exports the writer contract of the configuration tables, so that
// another implementation of the same operations (the embedded SQLite store)
// validates and records changes exactly as this one does.

// RuleField is one validated column = value of a rule update: the column is
// one of RuleColumns and the value is nil, a string, an int or a bool.
type RuleField struct {
	Column string
	Value  any
}

// RuleFields checks the fields of an UpdateRule call against the writable
// columns and their Go types, as UpdateRule does, and returns them in
// canonical column order with pointers resolved. Its errors wrap
// ErrInvalidConfigChange.
func RuleFields(fields map[string]any) ([]RuleField, error) {
	set, err := ruleAssignments(fields)
	if err != nil {
		return nil, err
	}
	out := make([]RuleField, len(set))
	for i, a := range set {
		out[i] = RuleField{Column: a.column, Value: a.value}
	}
	return out, nil
}

// CheckRule refuses the integers of r that the INT columns cannot hold, as
// CreateRule does; its error wraps ErrInvalidConfigChange.
func CheckRule(r Rule) error {
	return checkRuleInts(r.SyslogSeverity, r.Priority)
}

// Values returns the nine writable fields of r keyed by column, as the
// config audit log records them.
func (r Rule) Values() map[string]any { return r.values() }

// Values returns t as the config audit log records it.
func (t Team) Values() map[string]any { return t.values() }

// Change builds the config audit row of a change made by a.
func (a Actor) Change(op, table string, recordID int64, old, new any) ConfigChange {
	return a.change(op, table, recordID, old, new)
}

// EncodeConfigChange checks c against the writer contract, as
// RecordConfigChange does before it writes, and returns its old and new
// values as JSON text, nil meaning NULL. Its errors wrap
// ErrInvalidConfigChange.
func EncodeConfigChange(c ConfigChange) (oldJSON, newJSON *string, err error) {
	enc, err := c.encode()
	if err != nil {
		return nil, nil, err
	}
	if s, ok := enc.old.(string); ok {
		oldJSON = &s
	}
	if s, ok := enc.new.(string); ok {
		newJSON = &s
	}
	return oldJSON, newJSON, nil
}

// Page clamps an audit search's page size to 1..200 and its offset to 0 or
// more, as both searches do.
func Page(limit, offset int) (int, int) { return page(limit, offset) }

// EventCountCap is how many matching rows an event audit search counts at
// most before it reports an estimate.
const EventCountCap = eventCountCap

// Table names of the config audit rows of rule, development host and
// device team changes.
const (
	RulesTable    = rulesTable
	DevHostsTable = devHostsTable
	TeamsTable    = teamsTable
)
