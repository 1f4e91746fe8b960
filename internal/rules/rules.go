package rules

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// MatchType says how a rule compares an event.
type MatchType string

// The match types the alert_rules schema allows (CHECK constraint on match_type).
const (
	// Contains matches when match_string is a case-insensitive substring of the message.
	Contains MatchType = "contains"
	// Regex matches when match_string, as a case-insensitive RE2 pattern, is found anywhere in the message.
	Regex MatchType = "regex"
	// OIDPrefix matches when trap_oid is a prefix of the event's trap OID, on arc boundaries.
	OIDPrefix MatchType = "oid_prefix"
)

// Rule is one row of alert_rules.
type Rule struct {
	ID           int64
	MatchString  string    // "" = unset
	TrapOID      string    // "" = unset
	Severity     *int      // syslog_severity; nil = any severity
	MatchType    MatchType // match_type
	Priority     int       // lower wins; negative values allowed
	ProdHandling string    // prod_handling
	DevHandling  string    // dev_handling
	Team         string    // team_assignment
	Active       bool      // is_active
}

// Event is what the engine needs to know about an event.
type Event struct {
	Hostname string
	Message  string
	TrapOID  string // "" = none; numeric (with or without a leading dot) or symbolic
	Severity int    // 0-7, or -1 (any negative value) when the event carries no severity
}

// NoSeverity is the Event.Severity of an event that carries no severity.
const NoSeverity = -1

// Environments of a host.
const (
	// Prod is the environment of every host that is not a development host.
	Prod = "prod"
	// Dev is the environment of a host listed in development_hosts.
	Dev = "dev"
)

// Decision is the outcome for one event.
type Decision struct {
	Rule        *Rule  // nil: no rule matched (unhandled); owned by the Snapshot, must not be modified
	Environment string // Prod or Dev
	Handling    string // the rule's handling for that environment, original spelling; "" when unhandled
	Forward     bool   // Handling is one that sends an alert (see Forwards)
}

// Handled reports whether a rule matched.
func (d Decision) Handled() bool { return d.Rule != nil }

// Forwards reports whether a handling value sends an alert: page_and_ticket, page_only or
// ticket_only, compared lower-cased (Page_and_ticket, TICKET_ONLY, … forward too). Every other
// value (Ignore, Log_only, Email_only, Suppress, anything else) is audited without an alert.
func Forwards(handling string) bool {
	// Most values are short ASCII; comparing byte-wise avoids allocating a lower-cased copy.
	if isASCII(handling) {
		return strings.EqualFold(handling, "page_and_ticket") ||
			strings.EqualFold(handling, "page_only") ||
			strings.EqualFold(handling, "ticket_only")
	}
	// Unicode lower-casing maps some non-ASCII letters onto ASCII ones (U+0130 → i, U+212A → k),
	// and that is the comparison MUTT defines.
	switch strings.ToLower(handling) {
	case "page_and_ticket", "page_only", "ticket_only":
		return true
	}
	return false
}

// kind is a rule's match type reduced to what the matcher branches on.
type kind uint8

const (
	kindOther kind = iota // an unknown match_type: such a rule never matches
	kindContains
	kindRegex
	kindOIDPrefix
)

// compiled is a rule prepared for matching; everything per-rule that does not depend on the
// event is computed once here.
type compiled struct {
	rule      *Rule
	kind      kind
	hasOID    bool // trap_oid set: trap events only try the OID test for this rule
	hasString bool // match_string set
	sevFilter bool // syslog_severity set: string matching needs an event of exactly that severity
	severity  int
	oidPrefix string // normalised trap_oid; "" never matches
	needle    []byte // lower-cased match_string for contains rules
	re        *regexp.Regexp
	// reLiterals are lower-cased ASCII strings that every match of re contains. An ASCII message
	// lacking one of them cannot match, so the regex is not run (see requiredLiterals).
	reLiterals  [][]byte
	prodForward bool
	devForward  bool
}

// Snapshot is an immutable, compiled rule set with the development hosts and device teams it was
// built with. It is safe for concurrent use by any number of goroutines; a reload builds a new
// Snapshot and swaps the pointer. A nil *Snapshot behaves like an empty one.
type Snapshot struct {
	rules    []compiled
	devHosts map[string]struct{}
	teams    map[string]string
}

// Compile builds a snapshot. Inactive rules are left out. Rules are ordered by priority ascending,
// then id ascending, so equal priorities resolve the same way on every load. A rule that cannot be
// compiled (a regex RE2 rejects, such as a backreference or look-around) is left out and reported
// in the returned errors as a *RuleError, while the snapshot is still built from the rest. Rules
// with other defects Validate would reject stay in the snapshot and simply never match, as they
// would in the database-driven alerter.
//
// Compile copies everything it keeps; the caller may reuse rules, devHosts and teams afterwards.
func Compile(rules []Rule, devHosts []string, teams map[string]string) (*Snapshot, []error) {
	var errs []error
	kept := make([]Rule, 0, len(rules))
	for _, r := range rules {
		if !r.Active {
			continue
		}
		if r.Severity != nil {
			sev := *r.Severity
			r.Severity = &sev
		}
		kept = append(kept, r)
	}
	slices.SortStableFunc(kept, func(a, b Rule) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})

	s := &Snapshot{
		rules:    make([]compiled, 0, len(kept)),
		devHosts: make(map[string]struct{}, len(devHosts)),
		teams:    make(map[string]string, len(teams)),
	}
	for i := range kept {
		c, err := compileRule(&kept[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.rules = append(s.rules, c)
	}
	for _, h := range devHosts {
		s.devHosts[h] = struct{}{}
	}
	for h, t := range teams {
		s.teams[h] = t
	}
	return s, errs
}

func compileRule(r *Rule) (compiled, error) {
	c := compiled{
		rule:        r,
		hasOID:      r.TrapOID != "",
		hasString:   r.MatchString != "",
		prodForward: Forwards(r.ProdHandling),
		devForward:  Forwards(r.DevHandling),
	}
	if r.Severity != nil {
		c.sevFilter, c.severity = true, *r.Severity
	}
	switch r.MatchType {
	case Contains:
		c.kind = kindContains
		c.needle = []byte(strings.ToLower(r.MatchString))
	case Regex:
		c.kind = kindRegex
		// Only a regex rule with a pattern ever reaches the regex test, so only those are compiled.
		if c.hasString {
			re, err := compileRegex(r.MatchString)
			if err != nil {
				return compiled{}, &RuleError{RuleID: r.ID, Field: "match_string", Err: err}
			}
			c.re = re
			for _, lit := range requiredLiterals(r.MatchString) {
				c.reLiterals = append(c.reLiterals, []byte(lit))
			}
		}
	case OIDPrefix:
		c.kind = kindOIDPrefix
		c.oidPrefix = normalizePrefix(r.TrapOID)
	default:
		c.kind = kindOther
	}
	return c, nil
}

// compileRegex compiles a rule pattern the way it is matched: case-insensitive, unanchored, RE2
// syntax (no backreferences, look-around, atomic groups or possessive quantifiers).
func compileRegex(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		// Parsing the pattern on its own yields the same verdict with an error that quotes the
		// operator's text rather than the "(?i)"-prefixed one.
		if _, perr := syntax.Parse(pattern, syntax.Perl|syntax.FoldCase); perr != nil {
			err = perr
		}
		return nil, fmt.Errorf("regex does not compile: %w", err)
	}
	return re, nil
}

// lowerBufSize is the message length (in bytes, after lower-casing) up to which a match needs no
// heap allocation; syslog messages are normally well below it.
const lowerBufSize = 1024

// Match returns the first rule, in priority order, that matches ev, or nil when none does. The
// returned rule is owned by the snapshot and must not be modified.
func (s *Snapshot) Match(ev Event) *Rule {
	if c := s.match(ev); c != nil {
		return c.rule
	}
	return nil
}

func (s *Snapshot) match(ev Event) *compiled {
	if s == nil {
		return nil
	}
	hasOID := ev.TrapOID != ""
	hasMsg := ev.Message != ""
	if !hasOID && !hasMsg {
		return nil
	}
	oid := strings.TrimPrefix(ev.TrapOID, ".")

	// The lower-cased message is built at most once, and only when a rule needs it.
	var (
		buf     [lowerBufSize]byte
		lower   []byte
		ascii   bool
		lowered bool
	)
	for i := range s.rules {
		c := &s.rules[i]
		if hasOID && c.hasOID {
			// A rule with a trap_oid only ever OID-matches a trap, whatever its match_type.
			if c.kind == kindOIDPrefix && oidHasPrefix(oid, c.oidPrefix) {
				return c
			}
			continue
		}
		if !hasMsg || !c.hasString {
			continue
		}
		if c.sevFilter && (ev.Severity < 0 || ev.Severity != c.severity) {
			continue
		}
		switch c.kind {
		case kindContains:
			if !lowered {
				lower, ascii = appendLower(buf[:0], ev.Message)
				lowered = true
			}
			if bytes.Contains(lower, c.needle) {
				return c
			}
		case kindRegex:
			if c.reLiterals != nil {
				if !lowered {
					lower, ascii = appendLower(buf[:0], ev.Message)
					lowered = true
				}
				if ascii && !containsAll(lower, c.reLiterals) {
					continue
				}
			}
			if c.re.MatchString(ev.Message) {
				return c
			}
		}
	}
	return nil
}

func containsAll(s []byte, subs [][]byte) bool {
	for _, sub := range subs {
		if !bytes.Contains(s, sub) {
			return false
		}
	}
	return true
}

// Decide matches ev and works out the environment, the handling and whether an alert is sent.
func (s *Snapshot) Decide(ev Event) Decision {
	d := Decision{Environment: Prod}
	dev := s.IsDev(ev.Hostname)
	if dev {
		d.Environment = Dev
	}
	c := s.match(ev)
	if c == nil {
		return d
	}
	d.Rule = c.rule
	if dev {
		d.Handling, d.Forward = c.rule.DevHandling, c.devForward
	} else {
		d.Handling, d.Forward = c.rule.ProdHandling, c.prodForward
	}
	return d
}

// IsDev reports whether hostname is a development host. The comparison is exact and
// case-sensitive: an FQDN and its short name are different hosts.
func (s *Snapshot) IsDev(hostname string) bool {
	if s == nil {
		return false
	}
	_, ok := s.devHosts[hostname]
	return ok
}

// Team returns the device_teams assignment of hostname, or fallback when the host has none (or an
// empty one). It is used for unhandled meta-alerts only; handled alerts take the rule's team.
func (s *Snapshot) Team(hostname, fallback string) string {
	if s == nil {
		return fallback
	}
	if t, ok := s.teams[hostname]; ok && t != "" {
		return t
	}
	return fallback
}

// RuleCount returns the number of rules in the snapshot (active and compiled).
func (s *Snapshot) RuleCount() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// DevHostCount returns the number of distinct development hosts.
func (s *Snapshot) DevHostCount() int {
	if s == nil {
		return 0
	}
	return len(s.devHosts)
}

// TeamCount returns the number of device team assignments.
func (s *Snapshot) TeamCount() int {
	if s == nil {
		return 0
	}
	return len(s.teams)
}

// Rules returns a copy of the snapshot's rules in match order.
func (s *Snapshot) Rules() []Rule {
	if s == nil {
		return nil
	}
	out := make([]Rule, len(s.rules))
	for i := range s.rules {
		out[i] = *s.rules[i].rule
		if out[i].Severity != nil {
			sev := *out[i].Severity
			out[i].Severity = &sev
		}
	}
	return out
}
