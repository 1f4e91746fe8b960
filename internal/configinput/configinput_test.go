package configinput

import (
	"errors"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/store"
)

func ptr[T any](v T) *T { return &v }

func okRule() store.Rule {
	return store.Rule{MatchString: ptr("LINK-3-UPDOWN"), MatchType: "contains", Priority: 100,
		ProdHandling: "Page", DevHandling: "Ignore", TeamAssignment: "NET", IsActive: true}
}

func TestRule(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*store.Rule)
		fields []string // fields refused, in order
		first  string   // the first message
	}{
		{"valid", func(*store.Rule) {}, nil, ""},
		{"valid oid", func(r *store.Rule) { r.MatchString, r.TrapOID, r.MatchType = nil, ptr("1.3.6"), "oid_prefix" }, nil, ""},
		{"match type", func(r *store.Rule) { r.MatchType = "glob" }, []string{"match_type"},
			"match_type must be one of: contains, regex, oid_prefix"},
		{"severity", func(r *store.Rule) { r.SyslogSeverity = ptr(8) }, []string{"syslog_severity"}, "syslog_severity must be from 0 to 7"},
		{"severity negative", func(r *store.Rule) { r.SyslogSeverity = ptr(-1) }, []string{"syslog_severity"}, "syslog_severity must be from 0 to 7"},
		{"match too long", func(r *store.Rule) { r.MatchString = ptr(strings.Repeat("é", 256)) }, []string{"match_string"},
			"match_string must be at most 255 characters"},
		{"team too long", func(r *store.Rule) { r.TeamAssignment = strings.Repeat("t", 101) }, []string{"team_assignment"},
			"team_assignment must be at most 100 characters"},
		{"no criterion", func(r *store.Rule) { r.MatchString = ptr("") }, []string{"match_string"},
			"Either match_string or trap_oid is required"},
		{"bad regex", func(r *store.Rule) { r.MatchType, r.MatchString = "regex", ptr("(") }, []string{"match_string"},
			"invalid match_string: "},
		{"long regex is one problem", func(r *store.Rule) { r.MatchType, r.MatchString = "regex", ptr("("+strings.Repeat("a", 300)) },
			[]string{"match_string"}, "match_string must be at most 255 characters"},
		{"several in API order", func(r *store.Rule) {
			r.MatchType, r.SyslogSeverity, r.DevHandling = "x", ptr(9), strings.Repeat("d", 101)
		},
			[]string{"match_type", "syslog_severity", "dev_handling"}, "match_type must be one of: contains, regex, oid_prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := okRule()
			tt.edit(&r)
			err := Rule(r)
			var got []string
			for _, fe := range Fields(err) {
				got = append(got, fe.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("refused fields %v, want %v (err %v)", got, tt.fields, err)
			}
			if tt.first == "" {
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Message, tt.first) {
				t.Fatalf("first message %v, want %q", err, tt.first)
			}
		})
	}
}

func TestHostnameAndTeam(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		field string
		msg   string
	}{
		{"hostname ok", Hostname(strings.Repeat("h", 255)), "", ""},
		{"hostname too long", Hostname(strings.Repeat("ü", 256)), "hostname", "hostname must be at most 255 characters"},
		{"team ok", Team(store.Team{Hostname: "r1", TeamAssignment: strings.Repeat("t", 100)}), "", ""},
		{"team too long", Team(store.Team{Hostname: "r1", TeamAssignment: strings.Repeat("t", 101)}), "team_assignment",
			"team_assignment must be at most 100 characters"},
		{"hostname reported first", Team(store.Team{Hostname: strings.Repeat("h", 256), TeamAssignment: strings.Repeat("t", 101)}),
			"hostname", "hostname must be at most 255 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.field == "" {
				if tt.err != nil {
					t.Fatalf("refused: %v", tt.err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(tt.err, &fe) || fe.Field != tt.field || fe.Message != tt.msg {
				t.Fatalf("got %#v, want %s: %q", fe, tt.field, tt.msg)
			}
		})
	}
}
