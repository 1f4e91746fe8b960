package ruletest

import (
	"errors"
	"testing"

	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/store"
)

func TestNormalizeRefuses(t *testing.T) {
	_, err := Normalize([]byte(`{"message":"x"}`), []string{"hostname"})
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("Normalize without hostname: err = %v, want a *RefusedError", err)
	}
}

func TestDecide(t *testing.T) {
	set := store.RuleSet{
		Rules: []rules.Rule{
			{ID: 7, MatchString: "LINK-3-UPDOWN", MatchType: rules.Contains, Priority: 10,
				ProdHandling: "Page_and_ticket", DevHandling: "Ignore", Team: "NETWORK", Active: true},
		},
		DevHosts: []string{"lab1"},
		Teams:    map[string]string{"router9": "EDGE"},
	}
	tests := []struct {
		name        string
		event       string
		wantMatched bool
		wantEnv     string
		wantTeam    string
		wantForward bool
	}{
		{"prod match", `{"hostname":"router1","message":"%LINK-3-UPDOWN: down"}`, true, rules.Prod, "NETWORK", true},
		{"dev match", `{"hostname":"lab1","message":"%LINK-3-UPDOWN: down"}`, true, rules.Dev, "NETWORK", false},
		{"unhandled with device team", `{"hostname":"router9","message":"hello"}`, false, rules.Prod, "EDGE", false},
		{"unhandled default team", `{"hostname":"router2","message":"hello"}`, false, rules.Prod, "NETO", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Normalize([]byte(tt.event), []string{"hostname"})
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			r := Decide(ev, set, "NETO")
			if r.Matched != tt.wantMatched || r.Environment != tt.wantEnv || r.Team != tt.wantTeam || r.Forward != tt.wantForward {
				t.Errorf("Decide = %+v", r)
			}
			if r.RulesLoaded != 1 || (r.Rule != nil) != tt.wantMatched || r.Outcome == "" {
				t.Errorf("Decide = %+v", r)
			}
		})
	}
}
