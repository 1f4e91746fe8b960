package ruletest

import (
	"fmt"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/store"
)

// Report is what a dry run of the rules decides for one event.
type Report struct {
	Matched       bool        `json:"matched"`
	Rule          *RuleReport `json:"rule,omitempty"`
	Environment   string      `json:"environment"`
	Handling      string      `json:"handling_decision,omitempty"`
	Forward       bool        `json:"forwarded_to_moog"`
	Team          string      `json:"team_assignment"`
	Outcome       string      `json:"outcome"`
	RulesLoaded   int         `json:"rules_loaded"`
	RulesRejected int         `json:"rules_rejected,omitempty"`
}

// RuleReport is the matching rule as alert_rules names its columns.
type RuleReport struct {
	ID           int64  `json:"id"`
	MatchString  string `json:"match_string,omitempty"`
	TrapOID      string `json:"trap_oid,omitempty"`
	Severity     *int   `json:"syslog_severity"`
	MatchType    string `json:"match_type"`
	Priority     int    `json:"priority"`
	ProdHandling string `json:"prod_handling"`
	DevHandling  string `json:"dev_handling"`
	Team         string `json:"team_assignment"`
}

// RefusedError means ingest would refuse the event; Err says why.
type RefusedError struct{ Err error }

// Error says that and why the event would be refused.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("the event would be refused at ingest: %v", e.Err)
}

// Unwrap returns the normalization error.
func (e *RefusedError) Unwrap() error { return e.Err }

// Normalize reads raw as ingest would, with requiredFields as the
// configured required fields (nil: the defaults); a refusal is a
// *RefusedError.
func Normalize(raw []byte, requiredFields []string) (event.Event, error) {
	ev, err := event.Normalize(raw, event.Stamp{EventID: "dry-run", CorrelationID: "dry-run"},
		&event.Options{RequiredFields: requiredFields})
	if err != nil {
		return event.Event{}, &RefusedError{Err: err}
	}
	return ev, nil
}

// Decide compiles set, as the alerter does, and describes what it decides
// for ev; defaultTeam is the team of unhandled events from hosts without
// a device team.
func Decide(ev event.Event, set store.RuleSet, defaultTeam string) Report {
	snap, problems := rules.Compile(set.Rules, set.DevHosts, set.Teams)
	d := snap.Decide(rules.Event{Hostname: ev.Hostname, Message: ev.Message, TrapOID: ev.TrapOID, Severity: ev.Severity})
	return describe(d, snap, ev, defaultTeam, len(problems))
}

func describe(d rules.Decision, snap *rules.Snapshot, ev event.Event, defaultTeam string, rejected int) Report {
	r := Report{Environment: d.Environment, RulesLoaded: snap.RuleCount(), RulesRejected: rejected}
	if d.Rule == nil {
		r.Team = snap.Team(ev.Hostname, defaultTeam)
		r.Outcome = "unhandled: counted towards a meta-alert for repeated identical messages from this host; no audit row"
		return r
	}
	r.Matched, r.Handling, r.Forward, r.Team = true, d.Handling, d.Forward, d.Rule.Team
	r.Rule = &RuleReport{
		ID: d.Rule.ID, MatchString: d.Rule.MatchString, TrapOID: d.Rule.TrapOID, Severity: d.Rule.Severity,
		MatchType: string(d.Rule.MatchType), Priority: d.Rule.Priority,
		ProdHandling: d.Rule.ProdHandling, DevHandling: d.Rule.DevHandling, Team: d.Rule.Team,
	}
	if d.Forward {
		r.Outcome = "audit row written and an alert sent to the alert queue"
	} else {
		r.Outcome = "audit row written; no alert"
	}
	return r
}
