package rules

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func sev(n int) *int { return &n }

// active fills the columns a test does not care about so the rule is a valid, active row.
func active(r Rule) Rule {
	r.Active = true
	if r.ProdHandling == "" {
		r.ProdHandling = "Ticket_only"
	}
	if r.DevHandling == "" {
		r.DevHandling = "Ignore"
	}
	if r.Team == "" {
		r.Team = "NETO"
	}
	return r
}

func contains(id int64, prio int, s string) Rule {
	return active(Rule{ID: id, Priority: prio, MatchType: Contains, MatchString: s})
}

func regex(id int64, prio int, s string) Rule {
	return active(Rule{ID: id, Priority: prio, MatchType: Regex, MatchString: s})
}

func oidPrefix(id int64, prio int, oid string) Rule {
	return active(Rule{ID: id, Priority: prio, MatchType: OIDPrefix, TrapOID: oid})
}

// ruleRow is the JSON shape of an alert_rules row in testdata.
type ruleRow struct {
	ID           int64   `json:"id"`
	MatchString  *string `json:"match_string"`
	TrapOID      *string `json:"trap_oid"`
	Severity     *int    `json:"syslog_severity"`
	MatchType    string  `json:"match_type"`
	Priority     int     `json:"priority"`
	ProdHandling string  `json:"prod_handling"`
	DevHandling  string  `json:"dev_handling"`
	Team         string  `json:"team_assignment"`
	Active       bool    `json:"is_active"`
}

func loadRules(tb testing.TB, name string) []Rule {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var rows []ruleRow
	if err := json.Unmarshal(data, &rows); err != nil {
		tb.Fatalf("decoding %s: %v", name, err)
	}
	out := make([]Rule, 0, len(rows))
	for _, r := range rows {
		out = append(out, Rule{
			ID:           r.ID,
			MatchString:  deref(r.MatchString),
			TrapOID:      deref(r.TrapOID),
			Severity:     r.Severity,
			MatchType:    MatchType(r.MatchType),
			Priority:     r.Priority,
			ProdHandling: r.ProdHandling,
			DevHandling:  r.DevHandling,
			Team:         r.Team,
			Active:       r.Active,
		})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var sampleDevHosts = []string{"dev-router1", "test-switch1", "qa-firewall1"}

var sampleTeams = map[string]string{
	"router1.prod.example.com":   "NetOps",
	"switch1.prod.example.com":   "NetOps",
	"firewall1.prod.example.com": "Security",
	"server1.prod.example.com":   "SysAdmin",
}

// referenceMatch is a direct, unoptimised reading of the matching algorithm (spec §6.6 with the
// OID and severity changes of ADR 0002). Tests compare Snapshot.Match against it, which checks the
// lazy lower-casing and the regex literal shortcut.
func referenceMatch(rules []Rule, ev Event) *Rule {
	var ordered []Rule
	for _, r := range rules {
		if r.Active {
			ordered = append(ordered, r)
		}
	}
	slices.SortStableFunc(ordered, func(a, b Rule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	for i := range ordered {
		r := &ordered[i]
		var re *regexp.Regexp
		if r.MatchType == Regex && r.MatchString != "" {
			var err error
			if re, err = regexp.Compile("(?i)" + r.MatchString); err != nil {
				continue // dropped from the snapshot
			}
		}
		if ev.TrapOID != "" && r.TrapOID != "" {
			if r.MatchType != OIDPrefix {
				continue
			}
			oid := strings.TrimPrefix(ev.TrapOID, ".")
			prefix := r.TrapOID
			if p, ok := strings.CutSuffix(prefix, ".*"); ok {
				prefix = strings.TrimPrefix(p, ".")
			} else {
				prefix = strings.TrimSuffix(strings.TrimPrefix(prefix, "."), ".")
			}
			if prefix != "" && (oid == prefix || strings.HasPrefix(oid, prefix+".")) {
				return r
			}
			continue
		}
		if ev.Message == "" || r.MatchString == "" {
			continue
		}
		if r.Severity != nil && (ev.Severity < 0 || *r.Severity != ev.Severity) {
			continue
		}
		switch r.MatchType {
		case Contains:
			if strings.Contains(strings.ToLower(ev.Message), strings.ToLower(r.MatchString)) {
				return r
			}
		case Regex:
			if re.MatchString(ev.Message) {
				return r
			}
		}
	}
	return nil
}

func ruleID(r *Rule) int64 {
	if r == nil {
		return 0
	}
	return r.ID
}
