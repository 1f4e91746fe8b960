package bench

import (
	"testing"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/sender"
)

// decideAll runs the generated events through RuleSet(n) and returns the
// matched share, the forwarded share and the ids of the rules that matched.
func decideAll(t *testing.T, n int, events [][]byte) (matched, forwarded float64, hit map[int64]bool) {
	t.Helper()
	return decideWith(t, RuleSet(n), events)
}

// decideWith is decideAll for any rule set.
func decideWith(t *testing.T, set []rules.Rule, events [][]byte) (matched, forwarded float64, hit map[int64]bool) {
	t.Helper()
	for i := range set {
		set[i].ID = int64(i + 1)
	}
	snap, problems := rules.Compile(set, devHosts, deviceTeams)
	if len(problems) > 0 {
		t.Fatalf("Compile: %v", problems)
	}
	hit = map[int64]bool{}
	var m, f int
	for _, raw := range events {
		ev, err := event.Normalize(raw, event.Stamp{}, nil)
		if err != nil {
			t.Fatalf("Normalize(%s): %v", raw, err)
		}
		d := snap.Decide(rules.Event{Hostname: ev.Hostname, Message: ev.Message, TrapOID: ev.TrapOID, Severity: ev.Severity})
		if d.Rule == nil {
			continue
		}
		m++
		hit[d.Rule.ID] = true
		if d.Forward {
			f++
		}
	}
	return float64(m) / float64(len(events)), float64(f) / float64(len(events)), hit
}

func TestRuleSet(t *testing.T) {
	events := sender.Generate(20_000, 7)
	tests := []struct {
		name                 string
		n                    int
		minMatch, maxMatch   float64
		minForward           float64
		wantContains         bool
		wantRegex, wantOID   bool
		wantSeverityFiltered bool
	}{
		{name: "the 50-rule set", n: 50, minMatch: 0.30, maxMatch: 0.50, minForward: 0.15,
			wantContains: true, wantRegex: true, wantOID: true, wantSeverityFiltered: true},
		{name: "past the hand-written rules", n: 80, minMatch: 0.30, maxMatch: 0.50, minForward: 0.15,
			wantContains: true, wantRegex: true, wantOID: true, wantSeverityFiltered: true},
		{name: "fewer rules match less", n: 3, minMatch: 0.10, maxMatch: 0.20, minForward: 0.10,
			wantContains: true, wantRegex: true, wantSeverityFiltered: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := RuleSet(tt.n)
			if len(set) != tt.n {
				t.Fatalf("RuleSet(%d) has %d rules", tt.n, len(set))
			}
			kinds := map[rules.MatchType]bool{}
			severity := false
			for i, r := range set {
				if err := rules.Validate(r); err != nil {
					t.Errorf("rule %d (%q) is invalid: %v", i, r.MatchString+r.TrapOID, err)
				}
				if !r.Active {
					t.Errorf("rule %d is inactive", i)
				}
				kinds[r.MatchType] = true
				severity = severity || r.Severity != nil
			}
			if kinds[rules.Contains] != tt.wantContains || kinds[rules.Regex] != tt.wantRegex || kinds[rules.OIDPrefix] != tt.wantOID {
				t.Errorf("match types %v", kinds)
			}
			if severity != tt.wantSeverityFiltered {
				t.Errorf("severity-filtered rule present = %v, want %v", severity, tt.wantSeverityFiltered)
			}
			matched, forwarded, hit := decideAll(t, tt.n, events)
			if matched < tt.minMatch || matched > tt.maxMatch {
				t.Errorf("%.1f %% of events matched, want %.0f–%.0f %%", 100*matched, 100*tt.minMatch, 100*tt.maxMatch)
			}
			if forwarded < tt.minForward || forwarded >= matched {
				t.Errorf("%.1f %% forwarded of %.1f %% matched, want at least %.0f %% and not all", 100*forwarded, 100*matched, 100*tt.minForward)
			}
			for id := range hit {
				if id > int64(len(matchingRules)) {
					t.Errorf("filler rule %d (%+v) matched a generated event", id, set[id-1])
				}
			}
		})
	}
}

// TestRuleSetEveryMatchingRuleMatches guards the rule set against drift in
// the generator: every rule meant to match does.
func TestRuleSetEveryMatchingRuleMatches(t *testing.T) {
	_, _, hit := decideAll(t, 50, sender.Generate(20_000, 3))
	for i := range matchingRules {
		if !hit[int64(i+1)] {
			t.Errorf("matching rule %d (%q) matched nothing", i+1, matchingRules[i].MatchString+matchingRules[i].TrapOID)
		}
	}
}

// TestPagingRuleSet checks that the all-handled rule set pages for every
// generated event while the other rules still match what they match in
// RuleSet, so matching costs the same.
func TestPagingRuleSet(t *testing.T) {
	set := PagingRuleSet(50)
	if len(set) != 50 {
		t.Fatalf("PagingRuleSet(50) has %d rules", len(set))
	}
	for i, r := range set {
		if err := rules.Validate(r); err != nil {
			t.Errorf("rule %d is invalid: %v", i, err)
		}
		if !rules.Forwards(r.ProdHandling) || !rules.Forwards(r.DevHandling) {
			t.Errorf("rule %d handles %q / %q, which send no alert", i, r.ProdHandling, r.DevHandling)
		}
	}
	matched, forwarded, hit := decideWith(t, set, sender.Generate(20_000, 5))
	if matched != 1 || forwarded != 1 {
		t.Errorf("%.2f %% matched, %.2f %% forwarded, want 100 %% each", 100*matched, 100*forwarded)
	}
	for i := range matchingRules {
		if !hit[int64(i+1)] {
			t.Errorf("matching rule %d matched nothing ahead of the catch-all", i+1)
		}
	}
	if !hit[50] {
		t.Error("the catch-all matched nothing")
	}
}
