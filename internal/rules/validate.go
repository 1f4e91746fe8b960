package rules

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Column limits of alert_rules.
const (
	maxMatchLen    = 255 // match_string, trap_oid: VARCHAR(255)
	maxHandlingLen = 100 // prod_handling, dev_handling, team_assignment: VARCHAR(100)
)

// RuleError is a defect of one rule, naming the rule and the alert_rules column at fault.
type RuleError struct {
	RuleID int64
	Field  string // alert_rules column, e.g. "match_string"
	Err    error
}

// Error formats the defect as `rule 12: match_string: regex does not compile: …`.
func (e *RuleError) Error() string {
	return fmt.Sprintf("rule %d: %s: %v", e.RuleID, e.Field, e.Err)
}

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

// Validate checks a rule as an operator would write it and returns nil, one *RuleError, or an
// errors.Join of several, each naming the field and what is wrong with it. Beyond the schema's
// own checks (match_type, syslog_severity 0..7, column lengths, chk_match_criteria) it rejects
// rules that could never match: contains or regex without a match_string, oid_prefix without a
// trap_oid or with one that names no OID arc, and regexes RE2 cannot compile. Empty strings count
// as unset, as they do when matching.
func Validate(r Rule) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &RuleError{RuleID: r.ID, Field: field, Err: fmt.Errorf(format, args...)})
	}

	switch r.MatchType {
	case Contains, Regex, OIDPrefix:
	default:
		bad("match_type", "%q is not one of contains, regex, oid_prefix", r.MatchType)
	}
	if r.Severity != nil && (*r.Severity < 0 || *r.Severity > 7) {
		bad("syslog_severity", "%d is outside 0..7", *r.Severity)
	}
	if n := utf8.RuneCountInString(r.MatchString); n > maxMatchLen {
		bad("match_string", "%d characters, at most %d allowed", n, maxMatchLen)
	}
	if n := utf8.RuneCountInString(r.TrapOID); n > maxMatchLen {
		bad("trap_oid", "%d characters, at most %d allowed", n, maxMatchLen)
	}
	for _, f := range []struct{ name, value string }{
		{"prod_handling", r.ProdHandling},
		{"dev_handling", r.DevHandling},
		{"team_assignment", r.Team},
	} {
		if strings.TrimSpace(f.value) == "" {
			bad(f.name, "must not be empty")
		} else if n := utf8.RuneCountInString(f.value); n > maxHandlingLen {
			bad(f.name, "%d characters, at most %d allowed", n, maxHandlingLen)
		}
	}

	switch {
	case r.MatchString == "" && r.TrapOID == "":
		bad("match_string", "one of match_string and trap_oid must be set (chk_match_criteria)")
	case r.MatchType == Contains && r.MatchString == "":
		bad("match_string", "a contains rule without match_string never matches")
	case r.MatchType == Regex && r.MatchString == "":
		bad("match_string", "a regex rule without match_string never matches")
	case r.MatchType == OIDPrefix && r.TrapOID == "":
		bad("trap_oid", "an oid_prefix rule without trap_oid never matches")
	case r.MatchType == OIDPrefix && normalizePrefix(r.TrapOID) == "":
		bad("trap_oid", "%q names no OID arc and never matches", r.TrapOID)
	}
	if r.MatchType == Regex && r.MatchString != "" {
		if _, err := compileRegex(r.MatchString); err != nil {
			errs = append(errs, &RuleError{RuleID: r.ID, Field: "match_string", Err: err})
		}
	}

	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
