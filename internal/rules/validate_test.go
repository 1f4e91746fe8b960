package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	valid := active(Rule{ID: 12, Priority: 10, MatchType: Contains, MatchString: "CRITICAL",
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", Team: "NETO"})
	with := func(edit func(*Rule)) Rule {
		r := valid
		edit(&r)
		return r
	}
	tests := []struct {
		name      string
		rule      Rule
		wantField string // "" = valid
		wantText  string
	}{
		{"valid contains", valid, "", ""},
		{"valid regex", with(func(r *Rule) { r.MatchType = Regex; r.MatchString = `LINK-(UP|DOWN)` }), "", ""},
		{"valid oid_prefix", with(func(r *Rule) { r.MatchType = OIDPrefix; r.MatchString = ""; r.TrapOID = ".1.3.6.1.4.1.9" }), "", ""},
		{"valid oid_prefix with .* form", with(func(r *Rule) { r.MatchType = OIDPrefix; r.TrapOID = ".1.3.6.1.4.1.9.*" }), "", ""},
		{"valid severity 0", with(func(r *Rule) { r.Severity = sev(0) }), "", ""},
		{"valid severity 7", with(func(r *Rule) { r.Severity = sev(7) }), "", ""},
		{"valid at length limits", with(func(r *Rule) {
			r.MatchString = strings.Repeat("é", 255)
			r.Team = strings.Repeat("t", 100)
		}), "", ""},
		{"unknown match_type", with(func(r *Rule) { r.MatchType = "glob" }), "match_type", "not one of"},
		{"match_type is case-sensitive", with(func(r *Rule) { r.MatchType = "Contains" }), "match_type", "not one of"},
		{"empty match_type", with(func(r *Rule) { r.MatchType = "" }), "match_type", "not one of"},
		{"severity negative", with(func(r *Rule) { r.Severity = sev(-1) }), "syslog_severity", "outside 0..7"},
		{"severity 8", with(func(r *Rule) { r.Severity = sev(8) }), "syslog_severity", "outside 0..7"},
		{"match_string too long", with(func(r *Rule) { r.MatchString = strings.Repeat("x", 256) }), "match_string", "at most 255"},
		{"trap_oid too long", with(func(r *Rule) { r.TrapOID = strings.Repeat("1.", 128) }), "trap_oid", "at most 255"},
		{"empty prod_handling", with(func(r *Rule) { r.ProdHandling = "" }), "prod_handling", "empty"},
		{"blank dev_handling", with(func(r *Rule) { r.DevHandling = "  " }), "dev_handling", "empty"},
		{"empty team_assignment", with(func(r *Rule) { r.Team = "" }), "team_assignment", "empty"},
		{"prod_handling too long", with(func(r *Rule) { r.ProdHandling = strings.Repeat("p", 101) }), "prod_handling", "at most 100"},
		{"dev_handling too long", with(func(r *Rule) { r.DevHandling = strings.Repeat("d", 101) }), "dev_handling", "at most 100"},
		{"team_assignment too long", with(func(r *Rule) { r.Team = strings.Repeat("t", 101) }), "team_assignment", "at most 100"},
		{"no match criteria", with(func(r *Rule) { r.MatchString = "" }), "match_string", "chk_match_criteria"},
		{"contains with trap_oid only", with(func(r *Rule) { r.MatchString = ""; r.TrapOID = ".1.3.6" }), "match_string", "never matches"},
		{"regex with trap_oid only", with(func(r *Rule) { r.MatchType = Regex; r.MatchString = ""; r.TrapOID = ".1.3.6" }), "match_string", "never matches"},
		{"oid_prefix with match_string only", with(func(r *Rule) { r.MatchType = OIDPrefix }), "trap_oid", "never matches"},
		{"oid_prefix with no arcs", with(func(r *Rule) { r.MatchType = OIDPrefix; r.TrapOID = ".*" }), "trap_oid", "never matches"},
		{"regex with look-ahead", with(func(r *Rule) { r.MatchType = Regex; r.MatchString = `(?=down)` }), "match_string", "regex does not compile"},
		{"regex with backreference", with(func(r *Rule) { r.MatchType = Regex; r.MatchString = `(a)\1` }), "match_string", "regex does not compile"},
		{"regex with bad syntax", with(func(r *Rule) { r.MatchType = Regex; r.MatchString = `LINK-(UP` }), "match_string", "regex does not compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.rule)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error on %s", tt.wantField)
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Validate = %T %v, want a *RuleError", err, err)
			}
			if re.RuleID != 12 || re.Field != tt.wantField {
				t.Errorf("RuleError{%d, %q}, want {12, %q}", re.RuleID, re.Field, tt.wantField)
			}
			msg := err.Error()
			if !strings.Contains(msg, "rule 12: "+tt.wantField+": ") || !strings.Contains(msg, tt.wantText) {
				t.Errorf("Validate = %q, want it to name %q and say %q", msg, tt.wantField, tt.wantText)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	r := Rule{ID: 7, MatchType: "substring", Severity: sev(9)}
	err := Validate(r)
	if err == nil {
		t.Fatal("Validate = nil, want errors")
	}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var re *RuleError
		if !errors.As(e, &re) {
			t.Fatalf("joined error %T is not a *RuleError", e)
		}
		fields = append(fields, re.Field)
	}
	want := []string{"match_type", "syslog_severity", "prod_handling", "dev_handling", "team_assignment", "match_string"}
	if strings.Join(fields, ",") != strings.Join(want, ",") {
		t.Errorf("fields = %v, want %v", fields, want)
	}
}
