package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/store"
)

func newRulesCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "Work with alert rules"}
	var raw string
	test := &cobra.Command{
		Use:     "test --event JSON",
		Short:   "Show which rule an event would match and what would happen (no side effects)",
		Example: `  mutt rules test --event '{"hostname":"router1","message":"%LINK-3-UPDOWN: Interface Gi0/1, changed state to down","timestamp":"2025-01-15T14:30:22Z"}'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if raw == "" {
				return usageError{errors.New("--event is required")}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			ev, err := event.Normalize([]byte(raw), event.Stamp{EventID: "dry-run", CorrelationID: "dry-run"},
				&event.Options{RequiredFields: cfg.Ingest.RequiredFields})
			if err != nil {
				return usageError{fmt.Errorf("the event would be refused at ingest: %w", err)}
			}
			logger := g.logger(cfg)
			pool, err := app.ConnectPostgres(cmd.Context(), cfg.Postgres, logger)
			if err != nil {
				return err
			}
			defer pool.Close()
			set, err := store.New(pool).LoadRuleSet(cmd.Context())
			if err != nil {
				return err
			}
			snap, problems := rules.Compile(set.Rules, set.DevHosts, set.Teams)
			d := snap.Decide(rules.Event{Hostname: ev.Hostname, Message: ev.Message, TrapOID: ev.TrapOID, Severity: ev.Severity})
			return json.NewEncoder(g.stdout).Encode(describeDecision(d, snap, ev, cfg.Alerter.UnhandledDefaultTeam, len(problems)))
		},
	}
	test.Flags().StringVar(&raw, "event", "", "the event as a JSON object")
	cmd.AddCommand(test)
	return cmd
}

// decisionReport is what `mutt rules test` prints.
type decisionReport struct {
	Matched       bool        `json:"matched"`
	Rule          *ruleReport `json:"rule,omitempty"`
	Environment   string      `json:"environment"`
	Handling      string      `json:"handling_decision,omitempty"`
	Forward       bool        `json:"forwarded_to_moog"`
	Team          string      `json:"team_assignment"`
	Outcome       string      `json:"outcome"`
	RulesLoaded   int         `json:"rules_loaded"`
	RulesRejected int         `json:"rules_rejected,omitempty"`
}

// ruleReport is a rule as alert_rules names its columns.
type ruleReport struct {
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

func describeDecision(d rules.Decision, snap *rules.Snapshot, ev event.Event, defaultTeam string, rejected int) decisionReport {
	r := decisionReport{Environment: d.Environment, RulesLoaded: snap.RuleCount(), RulesRejected: rejected}
	if d.Rule == nil {
		r.Team = snap.Team(ev.Hostname, defaultTeam)
		r.Outcome = "unhandled: counted towards a meta-alert for repeated identical messages from this host; no audit row"
		return r
	}
	r.Matched, r.Handling, r.Forward, r.Team = true, d.Handling, d.Forward, d.Rule.Team
	r.Rule = &ruleReport{
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
