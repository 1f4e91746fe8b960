package rules

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzMatch(f *testing.F) {
	f.Add("%LINK-3-UPDOWN: Interface Gi0/1, changed state to down", "", int8(3), "link-3", "", uint8(0), int8(-1))
	f.Add("critical: link-down", "", int8(-1), "LINK-(UP|DOWN)", "", uint8(1), int8(-1))
	f.Add("linkDown", ".1.3.6.1.6.3.1.1.5.3.1.0", int8(-1), "", ".1.3.6.1.6.3.1.1.5.3", uint8(2), int8(-1))
	f.Add("x", "1.3.6.1.4.1.99", int8(-1), "x", ".1.3.6.1.4.1.9.*", uint8(2), int8(2))
	f.Add("ÉCHEC İ ſ \u212A", "", int8(0), "échec", "", uint8(0), int8(0))
	f.Add("%ſYS-5-RESTART", "", int8(5), "sys-5", "", uint8(1), int8(5))
	f.Add("AB\xffCD", ".", int8(7), "\xff", ".", uint8(3), int8(7))
	f.Add("(a)(b)", "", int8(-1), `(\w)\1`, "", uint8(1), int8(-1))

	types := []MatchType{Contains, Regex, OIDPrefix, "other"}
	f.Fuzz(func(t *testing.T, msg, oid string, evSev int8, matchString, trapOID string, mt uint8, ruleSev int8) {
		r := active(Rule{ID: 1, MatchString: matchString, TrapOID: trapOID, MatchType: types[int(mt)%len(types)]})
		if ruleSev >= 0 {
			r.Severity = sev(int(ruleSev % 8))
		}
		ev := Event{Hostname: "h", Message: msg, TrapOID: oid, Severity: int(evSev)}
		rules := []Rule{r, contains(2, 1, "zz")}

		s, errs := Compile(rules, []string{"h"}, nil)
		got := ruleID(s.Match(ev))
		d := s.Decide(ev)
		if ruleID(d.Rule) != got || d.Environment != Dev {
			t.Fatalf("Decide = %+v disagrees with Match = %d", d, got)
		}
		if d.Rule != nil && (d.Handling != d.Rule.DevHandling || d.Forward != Forwards(d.Handling)) {
			t.Fatalf("Decide = %+v, handling does not follow the rule", d)
		}
		if len(errs) > 0 && r.MatchType != Regex {
			t.Fatalf("Compile rejected a non-regex rule: %v", errs)
		}
		if want := ruleID(referenceMatch(rules, ev)); got != want {
			t.Fatalf("Match = rule %d, reference = rule %d (rule %+v, event %+v)", got, want, r, ev)
		}

		// A contains rule whose text occurs in the message always matches a syslog event.
		if oid == "" && msg != "" && utf8.ValidString(matchString) && matchString != "" &&
			strings.Contains(msg, matchString) {
			plain, _ := Compile([]Rule{contains(3, 1, matchString)}, nil, nil)
			if plain.Match(Event{Message: msg, Severity: int(evSev)}) == nil {
				t.Fatalf("contains %q did not match message %q", matchString, msg)
			}
		}

		if lower, _ := appendLower(nil, msg); string(lower) != strings.ToLower(msg) {
			t.Fatalf("appendLower(%q) = %q, want %q", msg, lower, strings.ToLower(msg))
		}
		_ = Validate(r)
		_ = UnhandledSignature(msg)
	})
}
