package rules

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestMatch(t *testing.T) {
	// The rule set of conformance check 7.
	check7 := []Rule{
		contains(1, 10, "CRITICAL"),
		contains(2, 20, "ERROR"),
		regex(3, 5, "LINK-(UP|DOWN)"),
		oidPrefix(4, 15, ".1.3.6.1.6.3.1.1.5.3"),
	}
	both := func(id int64, mt MatchType, ms, oid string) Rule {
		return active(Rule{ID: id, Priority: 10, MatchType: mt, MatchString: ms, TrapOID: oid})
	}
	withSev := func(r Rule, n int) Rule { r.Severity = sev(n); return r }
	inactive := func(r Rule) Rule { r.Active = false; return r }
	neutral := "coldStart trap received"

	tests := []struct {
		name  string
		rules []Rule
		ev    Event
		want  int64 // rule id; 0 = unhandled
	}{
		// Consequences of §6.6, with the OID change of ADR 0002.
		{"oid prefix matches a deeper oid", []Rule{oidPrefix(1, 1, ".1.3.6.1.4.1.9")},
			Event{TrapOID: ".1.3.6.1.4.1.9.9.41.2.0.1", Severity: -1}, 1},
		{"oid prefix matches the oid itself", []Rule{oidPrefix(1, 1, ".1.3.6.1.4.1.9")},
			Event{TrapOID: ".1.3.6.1.4.1.9", Severity: -1}, 1},
		{"fix: oid prefix respects arc boundaries", []Rule{oidPrefix(1, 1, ".1.3.6.1.4.1.9")},
			Event{TrapOID: ".1.3.6.1.4.1.99.1", Severity: -1}, 0},
		{"fix: rule leading dot, event without", []Rule{oidPrefix(1, 1, ".1.3.6.1.4.1.9")},
			Event{TrapOID: "1.3.6.1.4.1.9.9.41", Severity: -1}, 1},
		{"fix: event leading dot, rule without", []Rule{oidPrefix(1, 1, "1.3.6.1.4.1.9")},
			Event{TrapOID: ".1.3.6.1.4.1.9", Severity: -1}, 1},
		{"fix: no leading dots and sibling arc", []Rule{oidPrefix(1, 1, "1.3.6.1.4.1.9")},
			Event{TrapOID: "1.3.6.1.4.1.99", Severity: -1}, 0},
		{"trailing .* is the same prefix", []Rule{oidPrefix(1, 1, ".1.3.6.1.4.1.9.*")},
			Event{TrapOID: "1.3.6.1.4.1.9.9.41", Severity: -1}, 1},
		{"trailing .* keeps arc boundaries", []Rule{oidPrefix(1, 1, ".1.3.6.1.4.1.9.*")},
			Event{TrapOID: "1.3.6.1.4.1.99", Severity: -1}, 0},
		{"trailing dot is the same prefix", []Rule{oidPrefix(1, 1, "1.3.6.1.4.1.9.")},
			Event{TrapOID: "1.3.6.1.4.1.9", Severity: -1}, 1},
		{"prefix longer than the oid", []Rule{oidPrefix(1, 1, ".1.3.6.1.4.1.9.9")},
			Event{TrapOID: ".1.3.6.1.4.1.9", Severity: -1}, 0},
		{"prefix with no arcs never matches", []Rule{oidPrefix(1, 1, ".*")},
			Event{TrapOID: ".1.3.6", Severity: -1}, 0},
		{"lone dot prefix never matches", []Rule{oidPrefix(1, 1, ".")},
			Event{TrapOID: ".1.3.6", Severity: -1}, 0},
		{"event oid of a lone dot matches nothing", []Rule{oidPrefix(1, 1, ".1")},
			Event{Message: "x", TrapOID: ".", Severity: -1}, 0},
		{"symbolic oid prefix", []Rule{oidPrefix(1, 1, "IF-MIB::linkDown")},
			Event{TrapOID: "IF-MIB::linkDown", Severity: -1}, 1},
		{"oid branch has no severity filter", []Rule{withSev(oidPrefix(1, 1, ".1.3.6.1.4.1.9"), 3)},
			Event{TrapOID: ".1.3.6.1.4.1.9.1", Severity: -1}, 1},
		{"trap with rule holding trap_oid and match_string: only the oid test",
			[]Rule{both(1, Contains, "linkDown", ".1.3.6.1.4.1.9")},
			Event{Message: "linkDown", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 0},
		{"trap with rule holding trap_oid and match_string: oid test passes",
			[]Rule{both(1, OIDPrefix, "linkDown", ".1.3.6.1.6.3.1.1.5")},
			Event{Message: "nothing alike", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 1},
		{"trap with regex rule holding trap_oid: no string matching",
			[]Rule{both(1, Regex, "link", ".1.3.6.1.6.3.1.1.5.3")},
			Event{Message: "linkDown", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 0},
		{"trap matches a contains rule without trap_oid", []Rule{contains(1, 1, "linkdown")},
			Event{Message: "IF-MIB linkDown ifIndex 3", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 1},
		{"trap matches a regex rule without trap_oid", []Rule{regex(1, 1, `ifindex \d+`)},
			Event{Message: "IF-MIB linkDown ifIndex 3", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 1},
		{"no trap: oid_prefix never matches",
			[]Rule{both(1, OIDPrefix, "linkDown", ".1.3.6.1.6.3.1.1.5.3")},
			Event{Message: "linkDown 1.3.6.1.6.3.1.1.5.3", Severity: -1}, 0},
		{"contains with trap_oid only never matches a syslog event",
			[]Rule{both(1, Contains, "", ".1.3.6.1.6.3.1.1.5.3")},
			Event{Message: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 0},
		{"contains with trap_oid only never matches a trap",
			[]Rule{both(1, Contains, "", ".1.3.6.1.6.3.1.1.5.3")},
			Event{Message: "linkDown", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 0},
		{"oid_prefix with match_string only never matches",
			[]Rule{both(1, OIDPrefix, "linkDown", "")},
			Event{Message: "linkDown", Severity: -1}, 0},
		{"oid_prefix with match_string only never matches a trap",
			[]Rule{both(1, OIDPrefix, "linkDown", "")},
			Event{Message: "linkDown", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 0},
		{"empty match_string and trap_oid are unset", []Rule{both(1, Contains, "", "")},
			Event{Message: "anything", TrapOID: ".1.3", Severity: -1}, 0},
		{"empty trap_oid is unset: trap string-matches", []Rule{both(1, Contains, "down", "")},
			Event{Message: "link down", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Severity: -1}, 1},
		{"empty event trap_oid is no trap: rule with trap_oid string-matches",
			[]Rule{both(1, Contains, "down", ".1.3")},
			Event{Message: "link down", TrapOID: "", Severity: -1}, 1},
		{"empty message never string-matches", []Rule{regex(1, 1, ".*")},
			Event{Message: "", Severity: -1}, 0},
		{"severity equal matches", []Rule{withSev(contains(1, 1, "down"), 3)},
			Event{Message: "link down", Severity: 3}, 1},
		{"severity differs skips", []Rule{withSev(contains(1, 1, "down"), 3)},
			Event{Message: "link down", Severity: 4}, 0},
		{"severity zero is a severity", []Rule{withSev(contains(1, 1, "down"), 0)},
			Event{Message: "link down", Severity: 0}, 1},
		{"missing severity skips a severity rule", []Rule{withSev(contains(1, 1, "down"), 0)},
			Event{Message: "link down", Severity: -1}, 0},
		{"skipped severity rule falls through to the next",
			[]Rule{withSev(contains(1, 1, "down"), 3), contains(2, 2, "link")},
			Event{Message: "link down", Severity: 5}, 2},
		{"out-of-range rule severity matches no event", []Rule{withSev(contains(1, 1, "down"), -1)},
			Event{Message: "link down", Severity: NoSeverity}, 0},
		{"rule without severity matches any event severity", []Rule{contains(1, 1, "down")},
			Event{Message: "link down", Severity: 7}, 1},
		{"contains is case-insensitive", []Rule{contains(1, 1, "critical")},
			Event{Message: "CRITICAL: fan failed", Severity: -1}, 1},
		{"contains lower-cases unicode", []Rule{contains(1, 1, "ÉCHEC")},
			Event{Message: "échec de la liaison", Severity: -1}, 1},
		{"contains U+0130 lower-cases to i", []Rule{contains(1, 1, "İ")},
			Event{Message: "link i", Severity: -1}, 1},
		{"contains long message beyond the stack buffer", []Rule{contains(1, 1, "TAIL")},
			Event{Message: strings.Repeat("x", 3000) + "tail", Severity: -1}, 1},
		{"contains does not match", []Rule{contains(1, 1, "CPUHOG")},
			Event{Message: "%SYS-5-CONFIG_I: configured", Severity: -1}, 0},
		{"regex is an unanchored search", []Rule{regex(1, 1, `LINK-\d-UPDOWN`)},
			Event{Message: "Mar 1 %LINK-3-UPDOWN: Interface Gi0/1, changed state to down", Severity: -1}, 1},
		{"regex is case-insensitive", []Rule{regex(1, 1, `changed state to (up|down)`)},
			Event{Message: "Interface Gi0/1, CHANGED STATE TO DOWN", Severity: -1}, 1},
		{"regex folds long s to s on non-ascii input", []Rule{regex(1, 1, `sys-5`)},
			Event{Message: "%ſYS-5-RESTART", Severity: -1}, 1},
		{"regex folds kelvin sign", []Rule{regex(1, 1, `link`)},
			Event{Message: "LIN\u212A down", Severity: -1}, 1},
		{"regex does not match", []Rule{regex(1, 1, `LINK-(UP|DOWN)`)},
			Event{Message: "%LINEPROTO-5-UPDOWN: Line protocol", Severity: -1}, 0},
		{"unknown match_type never matches", []Rule{active(Rule{ID: 1, MatchType: "Contains", MatchString: "x"})},
			Event{Message: "x", Severity: -1}, 0},

		// Conformance checks 7 and 8.
		{"check 7: regex rule wins by priority", check7, Event{Message: "critical: link-down", Severity: -1}, 3},
		{"check 7: ERRORS detected", check7, Event{Message: "ERRORS detected", Severity: -1}, 2},
		{"check 7: lower-case critical", check7, Event{Message: "critical", Severity: -1}, 1},
		{"check 7: linkDown trap", check7, Event{Message: neutral, TrapOID: ".1.3.6.1.6.3.1.1.5.3.1.0", Severity: -1}, 4},
		{"check 7: shorter trap oid", check7, Event{Message: neutral, TrapOID: ".1.3.6.1.6.3.1", Severity: -1}, 0},
		{"check 7: sibling trap oid", check7, Event{Message: neutral, TrapOID: ".1.3.6.1.6.3.1.1.5.30", Severity: -1}, 0},
		{"check 7: trap text matches CRITICAL", check7,
			Event{Message: "CRITICAL power supply", TrapOID: ".1.3.6.1.4.1.9.9.13.3.0.5", Severity: -1}, 1},
		{"check 8: severity 3 matches 3", []Rule{withSev(contains(1, 1, "ERROR"), 3)}, Event{Message: "ERROR", Severity: 3}, 1},
		{"check 8: severity 3 does not match 2", []Rule{withSev(contains(1, 1, "ERROR"), 3)}, Event{Message: "ERROR", Severity: 2}, 0},
		{"check 8: severity 3 does not match none", []Rule{withSev(contains(1, 1, "ERROR"), 3)}, Event{Message: "ERROR", Severity: -1}, 0},

		// Ordering and the rule set.
		{"equal priorities resolve by id", []Rule{contains(7, 10, "down"), contains(3, 10, "link")},
			Event{Message: "link down", Severity: -1}, 3},
		{"lower priority number wins", []Rule{contains(1, 50, "down"), contains(2, 10, "link")},
			Event{Message: "link down", Severity: -1}, 2},
		{"negative priority beats zero", []Rule{contains(1, 0, "down"), contains(2, -5, "link")},
			Event{Message: "link down", Severity: -1}, 2},
		{"inactive rule is skipped", []Rule{inactive(contains(1, 1, "down")), contains(2, 2, "link")},
			Event{Message: "link down", Severity: -1}, 2},
		{"no rules: unhandled", nil, Event{Message: "link down", Severity: -1}, 0},
		{"no rule matches: unhandled", []Rule{contains(1, 1, "CPUHOG"), regex(2, 2, "MALLOC")},
			Event{Message: "link down", Severity: -1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, errs := Compile(tt.rules, nil, nil)
			if len(errs) != 0 {
				t.Fatalf("Compile errors: %v", errs)
			}
			if got := ruleID(s.Match(tt.ev)); got != tt.want {
				t.Errorf("Match(%+v) = rule %d, want %d", tt.ev, got, tt.want)
			}
			if ref := ruleID(referenceMatch(tt.rules, tt.ev)); ref != tt.want {
				t.Errorf("reference matcher = rule %d, want %d", ref, tt.want)
			}
		})
	}
}

func TestCompileDropsRegexRE2Rejects(t *testing.T) {
	rules := []Rule{
		regex(1, 1, `(?=.*down)link`), // look-ahead
		regex(2, 2, `(\w+) \1`),       // backreference
		regex(3, 3, `(?<!no )link`),   // look-behind
		regex(4, 4, `link-(up|down)`),
		contains(5, 5, "down"),
	}
	s, errs := Compile(rules, nil, nil)
	if len(errs) != 3 {
		t.Fatalf("Compile returned %d errors, want 3: %v", len(errs), errs)
	}
	for i, err := range errs {
		var re *RuleError
		if !errors.As(err, &re) {
			t.Fatalf("error %d is %T, want *RuleError", i, err)
		}
		if re.RuleID != int64(i+1) || re.Field != "match_string" {
			t.Errorf("error %d: rule %d field %q, want rule %d field match_string", i, re.RuleID, re.Field, i+1)
		}
		wantPrefix := "rule " + string(rune('1'+i)) + ": match_string: regex does not compile: "
		if !strings.HasPrefix(err.Error(), wantPrefix) {
			t.Errorf("error %d = %q, want prefix %q", i, err, wantPrefix)
		}
		if strings.Contains(err.Error(), "(?i)") {
			t.Errorf("error %d = %q quotes the internal (?i) prefix", i, err)
		}
	}
	if got := s.RuleCount(); got != 2 {
		t.Errorf("RuleCount = %d, want 2", got)
	}
	if got := ruleID(s.Match(Event{Message: "LINK-DOWN", Severity: -1})); got != 4 {
		t.Errorf("remaining regex rule: got rule %d, want 4", got)
	}
	if got := ruleID(s.Match(Event{Message: "going down", Severity: -1})); got != 5 {
		t.Errorf("remaining contains rule: got rule %d, want 5", got)
	}
}

func TestCompileOrderAndCounts(t *testing.T) {
	rules := []Rule{
		contains(9, 100, "a"),
		contains(4, 100, "b"),
		contains(2, -1, "c"),
		func() Rule { r := contains(1, 0, "d"); r.Active = false; return r }(),
		oidPrefix(3, 100, ".1.3"),
	}
	s, errs := Compile(rules, []string{"dev-router1", "test-switch1", "dev-router1"}, sampleTeams)
	if len(errs) != 0 {
		t.Fatalf("Compile errors: %v", errs)
	}
	var ids []int64
	for _, r := range s.Rules() {
		ids = append(ids, r.ID)
	}
	if want := []int64{2, 3, 4, 9}; !equalIDs(ids, want) {
		t.Errorf("rule order = %v, want %v", ids, want)
	}
	if got := s.RuleCount(); got != 4 {
		t.Errorf("RuleCount = %d, want 4", got)
	}
	if got := s.DevHostCount(); got != 2 {
		t.Errorf("DevHostCount = %d, want 2", got)
	}
	if got := s.TeamCount(); got != len(sampleTeams) {
		t.Errorf("TeamCount = %d, want %d", got, len(sampleTeams))
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSnapshotIsolatedFromCallerData(t *testing.T) {
	rules := []Rule{active(Rule{ID: 1, Priority: 1, MatchType: Contains, MatchString: "down", Severity: sev(3)})}
	hosts := []string{"dev-router1"}
	teams := map[string]string{"router1": "NetOps"}
	s, _ := Compile(rules, hosts, teams)

	*rules[0].Severity = 5
	rules[0].MatchString = "nothing"
	hosts[0] = "other"
	teams["router1"] = "Changed"

	if got := ruleID(s.Match(Event{Message: "link down", Severity: 3})); got != 1 {
		t.Errorf("Match after caller edits = rule %d, want 1", got)
	}
	if !s.IsDev("dev-router1") {
		t.Error("IsDev(dev-router1) = false after caller edited its slice")
	}
	if got := s.Team("router1", "NETO"); got != "NetOps" {
		t.Errorf("Team = %q after caller edited its map, want NetOps", got)
	}
	out := s.Rules()
	*out[0].Severity = 6
	if got := ruleID(s.Match(Event{Message: "link down", Severity: 3})); got != 1 {
		t.Errorf("Match after editing Rules() copy = rule %d, want 1", got)
	}
}

func TestDecide(t *testing.T) {
	rules := []Rule{
		active(Rule{ID: 1, Priority: 10, MatchType: Contains, MatchString: "CRITICAL",
			ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", Team: "NETO"}),
		active(Rule{ID: 2, Priority: 20, MatchType: Contains, MatchString: "ERROR",
			ProdHandling: "Ticket_only", DevHandling: "Ignore", Team: "NETO"}),
		active(Rule{ID: 3, Priority: 30, MatchType: Contains, MatchString: "NOTICE",
			ProdHandling: "Log_only", DevHandling: "page_only", Team: "NetOps"}),
	}
	s, errs := Compile(rules, sampleDevHosts, sampleTeams)
	if len(errs) != 0 {
		t.Fatalf("Compile errors: %v", errs)
	}
	tests := []struct {
		name         string
		ev           Event
		wantRule     int64
		wantEnv      string
		wantHandling string
		wantForward  bool
	}{
		{"prod host uses prod_handling", Event{Hostname: "router1.prod.example.com", Message: "CRITICAL", Severity: -1},
			1, Prod, "Page_and_ticket", true},
		{"dev host uses dev_handling", Event{Hostname: "dev-router1", Message: "CRITICAL", Severity: -1},
			1, Dev, "Ticket_only", true},
		{"check 9: Ticket_only forwards", Event{Hostname: "router1", Message: "ERROR", Severity: -1},
			2, Prod, "Ticket_only", true},
		{"check 9: Ignore does not forward", Event{Hostname: "test-switch1", Message: "ERROR", Severity: -1},
			2, Dev, "Ignore", false},
		{"lower-case handling forwards", Event{Hostname: "qa-firewall1", Message: "NOTICE", Severity: -1},
			3, Dev, "page_only", true},
		{"Log_only does not forward", Event{Hostname: "server1.prod.example.com", Message: "NOTICE", Severity: -1},
			3, Prod, "Log_only", false},
		{"dev host match is case-sensitive", Event{Hostname: "DEV-ROUTER1", Message: "CRITICAL", Severity: -1},
			1, Prod, "Page_and_ticket", true},
		{"dev host match is exact (no FQDN normalisation)", Event{Hostname: "dev-router1.example.com", Message: "CRITICAL", Severity: -1},
			1, Prod, "Page_and_ticket", true},
		{"unhandled in prod", Event{Hostname: "router1", Message: "hello", Severity: -1}, 0, Prod, "", false},
		{"unhandled in dev", Event{Hostname: "dev-router1", Message: "hello", Severity: -1}, 0, Dev, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Decide(tt.ev)
			if got := ruleID(d.Rule); got != tt.wantRule {
				t.Errorf("rule = %d, want %d", got, tt.wantRule)
			}
			if d.Handled() != (tt.wantRule != 0) {
				t.Errorf("Handled() = %v, want %v", d.Handled(), tt.wantRule != 0)
			}
			if d.Environment != tt.wantEnv || d.Handling != tt.wantHandling || d.Forward != tt.wantForward {
				t.Errorf("Decide = {%s %q %v}, want {%s %q %v}", d.Environment, d.Handling, d.Forward,
					tt.wantEnv, tt.wantHandling, tt.wantForward)
			}
		})
	}
}

// eventCase is one row of testdata/events.json.
type eventCase struct {
	Name         string `json:"name"`
	Hostname     string `json:"hostname"`
	Message      string `json:"message"`
	TrapOID      string `json:"trap_oid"`
	Severity     int    `json:"severity"`
	WantRule     int64  `json:"want_rule"`
	WantEnv      string `json:"want_env"`
	WantHandling string `json:"want_handling"`
	WantForward  bool   `json:"want_forward"`
}

func TestDecideSampleEvents(t *testing.T) {
	rules := loadRules(t, "rules50.json")
	s, errs := Compile(rules, sampleDevHosts, sampleTeams)
	if len(errs) != 0 {
		t.Fatalf("Compile errors: %v", errs)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tests []eventCase
	if err := json.Unmarshal(data, &tests); err != nil {
		t.Fatalf("decoding events.json: %v", err)
	}
	if len(tests) == 0 {
		t.Fatal("events.json holds no events")
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			ev := Event{Hostname: tt.Hostname, Message: tt.Message, TrapOID: tt.TrapOID, Severity: tt.Severity}
			d := s.Decide(ev)
			if got := ruleID(d.Rule); got != tt.WantRule {
				t.Errorf("rule = %d, want %d", got, tt.WantRule)
			}
			if ref := ruleID(referenceMatch(rules, ev)); ref != tt.WantRule {
				t.Errorf("reference matcher = rule %d, want %d", ref, tt.WantRule)
			}
			if d.Environment != tt.WantEnv || d.Handling != tt.WantHandling || d.Forward != tt.WantForward {
				t.Errorf("Decide = {%s %q %v}, want {%s %q %v}", d.Environment, d.Handling, d.Forward,
					tt.WantEnv, tt.WantHandling, tt.WantForward)
			}
		})
	}
}

func TestForwards(t *testing.T) {
	tests := []struct {
		handling string
		want     bool
	}{
		{"page_and_ticket", true},
		{"Page_and_ticket", true},
		{"PAGE_AND_TICKET", true},
		{"page_only", true},
		{"Page_only", true},
		{"ticket_only", true},
		{"Ticket_only", true},
		{"TICKET_ONLY", true},
		{"t\u0130cket_only", true}, // U+0130 lower-cases to i
		{"tic\u212Aet_only", true}, // Kelvin sign lower-cases to k
		{"Ignore", false},
		{"Log_only", false},
		{"Email_only", false},
		{"Suppress", false},
		{"", false},
		{" ticket_only", false},
		{"ticket only", false},
		{"page", false},
		{"ticket_only_later", false},
	}
	for _, tt := range tests {
		t.Run(tt.handling, func(t *testing.T) {
			if got := Forwards(tt.handling); got != tt.want {
				t.Errorf("Forwards(%q) = %v, want %v", tt.handling, got, tt.want)
			}
		})
	}
}

func TestTeam(t *testing.T) {
	s, _ := Compile(nil, nil, map[string]string{
		"router1.prod.example.com":   "NetOps",
		"firewall1.prod.example.com": "Security",
		"blank.example.com":          "",
	})
	tests := []struct {
		name, host, want string
	}{
		{"known host", "router1.prod.example.com", "NetOps"},
		{"another known host", "firewall1.prod.example.com", "Security"},
		{"unknown host falls back", "router9.prod.example.com", "NETO"},
		{"lookup is case-sensitive", "ROUTER1.prod.example.com", "NETO"},
		{"short name is not the FQDN", "router1", "NETO"},
		{"empty assignment falls back", "blank.example.com", "NETO"},
		{"empty hostname falls back", "", "NETO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Team(tt.host, "NETO"); got != tt.want {
				t.Errorf("Team(%q) = %q, want %q", tt.host, got, tt.want)
			}
		})
	}
}

func TestNilSnapshot(t *testing.T) {
	var s *Snapshot
	ev := Event{Hostname: "h", Message: "CRITICAL", Severity: -1}
	if r := s.Match(ev); r != nil {
		t.Errorf("Match = %v, want nil", r)
	}
	if d := s.Decide(ev); d.Rule != nil || d.Environment != Prod || d.Forward {
		t.Errorf("Decide = %+v, want unhandled prod", d)
	}
	if s.IsDev("h") || s.Team("h", "NETO") != "NETO" || s.RuleCount() != 0 || s.DevHostCount() != 0 ||
		s.TeamCount() != 0 || s.Rules() != nil {
		t.Error("nil snapshot is not empty")
	}
}

func TestConcurrentDecide(t *testing.T) {
	s, errs := Compile(loadRules(t, "rules50.json"), sampleDevHosts, sampleTeams)
	if len(errs) != 0 {
		t.Fatalf("Compile errors: %v", errs)
	}
	ev := Event{Hostname: "router1", Message: benchMessage, Severity: 5}
	var wg sync.WaitGroup
	results := make([]int64, 8)
	for g := range results {
		wg.Go(func() {
			for range 500 {
				results[g] = ruleID(s.Decide(ev).Rule)
			}
		})
	}
	wg.Wait()
	for g, id := range results {
		if id != 30 {
			t.Errorf("goroutine %d matched rule %d, want 30", g, id)
		}
	}
}

func TestUnhandledSignature(t *testing.T) {
	tests := []struct {
		message, want string
	}{
		{"abc", "a9993e364706816a"}, // FIPS 180 test vector a9993e36 4706816a ba3e2571 …
		{"", "da39a3ee5e6b4b0d"},
		{"The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fc"},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			if got := UnhandledSignature(tt.message); got != tt.want {
				t.Errorf("UnhandledSignature(%q) = %q, want %q", tt.message, got, tt.want)
			}
		})
	}
}

func TestAppendLower(t *testing.T) {
	tests := []struct {
		name, in  string
		wantASCII bool
	}{
		{"empty", "", true},
		{"ascii", "%LINK-3-UPDOWN: Interface Gi0/1", true},
		{"latin", "ÉCHEC de Liaison", false},
		{"ascii then unicode", "Link DOWN İ", false},
		{"kelvin", "\u212A", false},
		{"invalid utf-8", "AB\xffCD\xc3", false},
		{"real replacement char", "A\uFFFDB", false},
		{"growing and shrinking runes", "ȺȾ ẞ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ascii := appendLower(make([]byte, 0, 4), tt.in)
			if string(got) != strings.ToLower(tt.in) {
				t.Errorf("appendLower(%q) = %q, want %q", tt.in, got, strings.ToLower(tt.in))
			}
			if ascii != tt.wantASCII {
				t.Errorf("ascii = %v, want %v", ascii, tt.wantASCII)
			}
		})
	}
}

func TestRequiredLiterals(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string
	}{
		{"LINK-(UP|DOWN)", []string{"link-"}},
		{`%SYS-5-CONFIG_I`, []string{"%sys-5-config_i"}},
		{`LINK-\d-UPDOWN`, []string{"-updown", "link-"}},
		{`Interface Tunnel\d+, changed state to down`, []string{", changed state to down", "interface tunnel"}},
		{`(?-i)ABC`, []string{"abc"}},
		{`(foo)+barbaz`, []string{"barbaz", "foo"}},
		{`x{2,}y`, []string{"x", "y"}},
		{`a-b-a-b`, []string{"a-b-a-b"}},
		{`a\d+a\d+a`, []string{"a"}},
		{`a|b`, nil},
		{`(abc)?`, nil},
		{`abc*`, []string{"ab"}},
		{`.*`, nil},
		{`ſ`, []string{"s"}}, // folds with s; matched against ASCII input as s
		{`é+down`, []string{"down"}},
		{`(?-i)\x{212A}`, nil},
		{`a1\d b2\d c3\d d4\d e5\d`, []string{" b2", " c3", " d4", " e5"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if got := requiredLiterals(tt.pattern); !slices.Equal(got, tt.want) {
				t.Errorf("requiredLiterals(%q) = %q, want %q", tt.pattern, got, tt.want)
			}
		})
	}
}
