package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mutt-go/mutt/internal/rules"
)

// RuleSet is the configuration the alerter caches: the active rules in
// matching order, the development hosts and the team of each device.
type RuleSet struct {
	Rules    []rules.Rule      // active rules ordered by priority, then id
	DevHosts []string          // sorted
	Teams    map[string]string // hostname → team
}

const (
	selectActiveRulesSQL = `
SELECT id, match_string, trap_oid, syslog_severity, match_type, priority,
       prod_handling, dev_handling, team_assignment, is_active
FROM alert_rules
WHERE is_active
ORDER BY priority, id`
	selectDevHostsSQL = `SELECT hostname FROM development_hosts ORDER BY hostname`
	selectTeamsSQL    = `SELECT hostname, team_assignment FROM device_teams`
)

// LoadRuleSet reads the active rules, the development hosts and the device
// teams in one REPEATABLE READ, READ ONLY transaction, so that the three come
// from the same snapshot even while they are being edited. Unset match string
// and trap OID become "", an unset severity nil.
func (s *Store) LoadRuleSet(ctx context.Context) (RuleSet, error) {
	var set RuleSet
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			set, err = loadRuleSet(ctx, tx)
			return err
		})
	if err != nil {
		return RuleSet{}, fmt.Errorf("loading rule set: %w", err)
	}
	return set, nil
}

func loadRuleSet(ctx context.Context, tx pgx.Tx) (RuleSet, error) {
	// The three queries go out in one round trip.
	batch := &pgx.Batch{}
	batch.Queue(selectActiveRulesSQL)
	batch.Queue(selectDevHostsSQL)
	batch.Queue(selectTeamsSQL)
	results := tx.SendBatch(ctx, batch)
	defer results.Close()

	rows, err := results.Query()
	if err != nil {
		return RuleSet{}, fmt.Errorf("reading rules: %w", err)
	}
	ruleList, err := pgx.CollectRows(rows, scanRule)
	if err != nil {
		return RuleSet{}, fmt.Errorf("reading rules: %w", err)
	}

	rows, err = results.Query()
	if err != nil {
		return RuleSet{}, fmt.Errorf("reading development hosts: %w", err)
	}
	hosts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return RuleSet{}, fmt.Errorf("reading development hosts: %w", err)
	}

	rows, err = results.Query()
	if err != nil {
		return RuleSet{}, fmt.Errorf("reading device teams: %w", err)
	}
	teams := make(map[string]string)
	var host, team string
	_, err = pgx.ForEachRow(rows, []any{&host, &team}, func() error {
		teams[host] = team
		return nil
	})
	if err != nil {
		return RuleSet{}, fmt.Errorf("reading device teams: %w", err)
	}
	if err := results.Close(); err != nil {
		return RuleSet{}, fmt.Errorf("reading rule set: %w", err)
	}
	return RuleSet{Rules: ruleList, DevHosts: hosts, Teams: teams}, nil
}

func scanRule(row pgx.CollectableRow) (rules.Rule, error) {
	var (
		r                    rules.Rule
		matchString, trapOID *string
		severity             *int32
		matchType            string
		priority             int32
	)
	err := row.Scan(&r.ID, &matchString, &trapOID, &severity, &matchType, &priority,
		&r.ProdHandling, &r.DevHandling, &r.Team, &r.Active)
	if err != nil {
		return rules.Rule{}, err
	}
	if matchString != nil {
		r.MatchString = *matchString
	}
	if trapOID != nil {
		r.TrapOID = *trapOID
	}
	if severity != nil {
		v := int(*severity)
		r.Severity = &v
	}
	r.MatchType = rules.MatchType(matchType)
	r.Priority = int(priority)
	return r, nil
}
