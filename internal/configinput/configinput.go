package configinput

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/store"
)

// Column limits of alert_rules, development_hosts and device_teams.
const (
	maxMatchLen    = 255
	maxHandlingLen = 100
	maxHostnameLen = 255
	maxTeamLen     = 100
)

// FieldError is one refused input value: Field names the body member or
// form field, Message is what the API answers and the dashboard shows.
type FieldError struct {
	Field   string
	Message string
}

// Error returns the message.
func (e *FieldError) Error() string { return e.Message }

func fieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// join is nil for no problems, the *FieldError itself for one, and an
// errors.Join of them (in the order found) for more.
func join(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// Rule checks a rule as it would be stored: match_type, the
// syslog_severity range, column lengths, that match_string or trap_oid is
// set, and that a regex match_string compiles. It returns nil or the
// *FieldError values found, in the order the API reports them (errors.As
// finds the first); a field that is already refused is not checked again.
func Rule(r store.Rule) error {
	var errs []error
	refused := map[string]bool{}
	bad := func(field, format string, args ...any) {
		errs = append(errs, fieldErrorf(field, format, args...))
		refused[field] = true
	}
	switch r.MatchType {
	case string(rules.Contains), string(rules.Regex), string(rules.OIDPrefix):
	default:
		bad("match_type", "match_type must be one of: contains, regex, oid_prefix")
	}
	if r.SyslogSeverity != nil && (*r.SyslogSeverity < 0 || *r.SyslogSeverity > 7) {
		bad("syslog_severity", "syslog_severity must be from 0 to 7")
	}
	for _, f := range []struct {
		name  string
		value *string
		max   int
	}{
		{"match_string", r.MatchString, maxMatchLen},
		{"trap_oid", r.TrapOID, maxMatchLen},
		{"prod_handling", &r.ProdHandling, maxHandlingLen},
		{"dev_handling", &r.DevHandling, maxHandlingLen},
		{"team_assignment", &r.TeamAssignment, maxHandlingLen},
	} {
		if f.value != nil && utf8.RuneCountInString(*f.value) > f.max {
			bad(f.name, "%s must be at most %d characters", f.name, f.max)
		}
	}
	if (r.MatchString == nil || *r.MatchString == "") && (r.TrapOID == nil || *r.TrapOID == "") {
		bad("match_string", "Either match_string or trap_oid is required")
	}
	if !refused["match_string"] && r.MatchType == string(rules.Regex) && r.MatchString != nil && *r.MatchString != "" {
		if err := checkRegex(*r.MatchString); err != nil {
			errs = append(errs, err)
		}
	}
	return join(errs)
}

// checkRegex compiles a regex match_string as the rule engine does.
func checkRegex(pattern string) error {
	probe := rules.Rule{MatchType: rules.Regex, MatchString: pattern, ProdHandling: "x", DevHandling: "x", Team: "x"}
	if err := rules.Validate(probe); err != nil {
		var re *rules.RuleError
		if errors.As(err, &re) && re.Field == "match_string" {
			return fieldErrorf("match_string", "invalid match_string: %v", re.Err)
		}
		return fieldErrorf("match_string", "invalid match_string")
	}
	return nil
}

// Hostname checks the length of a development host's or device team's
// hostname; whether an empty one is allowed is the caller's rule.
func Hostname(h string) error {
	if utf8.RuneCountInString(h) > maxHostnameLen {
		return fieldErrorf("hostname", "hostname must be at most %d characters", maxHostnameLen)
	}
	return nil
}

// Team checks the lengths of a device team mapping: the hostname first,
// then team_assignment, as Rule reports several problems.
func Team(t store.Team) error {
	var errs []error
	if err := Hostname(t.Hostname); err != nil {
		errs = append(errs, err)
	}
	if utf8.RuneCountInString(t.TeamAssignment) > maxTeamLen {
		errs = append(errs, fieldErrorf("team_assignment", "team_assignment must be at most %d characters", maxTeamLen))
	}
	return join(errs)
}

// Fields lists the *FieldError values of an error that Rule, Hostname or
// Team returned, in order; nil for nil.
func Fields(err error) []*FieldError {
	var fe *FieldError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			if errors.As(e, &fe) {
				out = append(out, fe)
			}
		}
		return out
	}
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return nil
}
