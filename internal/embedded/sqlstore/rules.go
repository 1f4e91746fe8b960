package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/store"
)

const (
	selectRuleColumns = `id, match_string, trap_oid, syslog_severity, match_type, priority,
       prod_handling, dev_handling, team_assignment, is_active`
	listRulesSQL   = `SELECT ` + selectRuleColumns + ` FROM alert_rules ORDER BY priority, id`
	activeRulesSQL = `SELECT ` + selectRuleColumns + ` FROM alert_rules WHERE is_active ORDER BY priority, id`
	getRuleSQL     = `SELECT ` + selectRuleColumns + ` FROM alert_rules WHERE id = ?`
	insertRuleSQL  = `
INSERT INTO alert_rules (match_string, trap_oid, syslog_severity, match_type, priority,
                         prod_handling, dev_handling, team_assignment, is_active)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	deleteRuleSQL = `DELETE FROM alert_rules WHERE id = ?`
)

// queryer is what a pool and a transaction have in common for a query.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ListRules returns every rule, active or not, ordered by priority, then id.
func (d *DB) ListRules(ctx context.Context) ([]store.Rule, error) {
	list, err := queryRules(ctx, d.r, listRulesSQL)
	if err != nil {
		return nil, fmt.Errorf("listing rules: %w", err)
	}
	return list, nil
}

// GetRule returns the rule with the given id, or an error wrapping
// store.ErrNotFound.
func (d *DB) GetRule(ctx context.Context, id int64) (store.Rule, error) {
	r, err := getRule(ctx, d.r, id)
	if err != nil {
		return store.Rule{}, fmt.Errorf("reading rule %d: %w", id, err)
	}
	return r, nil
}

// CreateRule inserts r (its ID is ignored) and records a CREATE whose new
// values are the nine writable fields, in one transaction; it returns the
// new rule's id.
func (d *DB) CreateRule(ctx context.Context, r store.Rule, a store.Actor) (int64, error) {
	if err := store.CheckRule(r); err != nil {
		return 0, fmt.Errorf("creating rule: %w", err)
	}
	var id int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, insertRuleSQL, r.MatchString, r.TrapOID, r.SyslogSeverity, r.MatchType,
			r.Priority, r.ProdHandling, r.DevHandling, r.TeamAssignment, r.IsActive)
		if err != nil {
			return classify(err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		r.ID = id
		_, err = d.recordTx(ctx, tx, a.Change(store.OpCreate, store.RulesTable, id, nil, r.Values()))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("creating rule: %w", err)
	}
	return id, nil
}

// UpdateRule sets the given columns of rule id and records an UPDATE whose
// new values are fields and whose old values are the same columns of the
// row as it was, in one transaction. Fields follow store.RuleFields; a
// missing rule gives store.ErrNotFound.
func (d *DB) UpdateRule(ctx context.Context, id int64, fields map[string]any, a store.Actor) error {
	set, err := store.RuleFields(fields)
	if err != nil {
		return fmt.Errorf("updating rule %d: %w", id, err)
	}
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		// The writer transaction is IMMEDIATE, so the row cannot change
		// between this read and the update.
		before, err := getRule(ctx, tx, id)
		if err != nil {
			return err
		}
		clauses := make([]string, len(set))
		args := make([]any, 0, len(set)+1)
		newValues := make(map[string]any, len(set))
		oldValues := make(map[string]any, len(set))
		all := before.Values()
		for i, f := range set {
			// Column names come from store.RuleColumns only.
			clauses[i] = `"` + f.Column + `" = ?`
			args = append(args, f.Value)
			newValues[f.Column] = f.Value
			oldValues[f.Column] = all[f.Column]
		}
		args = append(args, id)
		res, err := tx.ExecContext(ctx, "UPDATE alert_rules SET "+strings.Join(clauses, ", ")+" WHERE id = ?", args...)
		if err != nil {
			return classify(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		_, err = d.recordTx(ctx, tx, a.Change(store.OpUpdate, store.RulesTable, id, oldValues, newValues))
		return err
	})
	if err != nil {
		return fmt.Errorf("updating rule %d: %w", id, err)
	}
	return nil
}

// DeleteRule deletes rule id and records a DELETE whose old values are the
// nine writable fields of the deleted row, in one transaction. A missing
// rule gives store.ErrNotFound; a rule that audited events still reference
// gives store.ErrReferenced.
func (d *DB) DeleteRule(ctx context.Context, id int64, a store.Actor) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		before, err := getRule(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, deleteRuleSQL, id); err != nil {
			return classify(err)
		}
		_, err = d.recordTx(ctx, tx, a.Change(store.OpDelete, store.RulesTable, id, before.Values(), nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting rule %d: %w", id, err)
	}
	return nil
}

// LoadRuleSet reads the active rules, the development hosts and the device
// teams in one read transaction, so that the three come from the same
// snapshot even while they are being edited.
func (d *DB) LoadRuleSet(ctx context.Context) (store.RuleSet, error) {
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.RuleSet{}, fmt.Errorf("loading rule set: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	list, err := queryRules(ctx, tx, activeRulesSQL)
	if err != nil {
		return store.RuleSet{}, fmt.Errorf("loading rule set: reading rules: %w", err)
	}
	set := store.RuleSet{Rules: make([]rules.Rule, len(list)), Teams: make(map[string]string)}
	for i, r := range list {
		set.Rules[i] = engineRule(r)
	}
	if set.DevHosts, err = queryStrings(ctx, tx, listDevHostsSQL); err != nil {
		return store.RuleSet{}, fmt.Errorf("loading rule set: reading development hosts: %w", err)
	}
	teams, err := listTeams(ctx, tx)
	if err != nil {
		return store.RuleSet{}, fmt.Errorf("loading rule set: reading device teams: %w", err)
	}
	for _, t := range teams {
		set.Teams[t.Hostname] = t.TeamAssignment
	}
	return set, nil
}

// engineRule converts a stored rule to the rule engine's form: unset match
// string and trap OID become "".
func engineRule(r store.Rule) rules.Rule {
	out := rules.Rule{
		ID: r.ID, MatchType: rules.MatchType(r.MatchType), Priority: r.Priority, Severity: r.SyslogSeverity,
		ProdHandling: r.ProdHandling, DevHandling: r.DevHandling, Team: r.TeamAssignment, Active: r.IsActive,
	}
	if r.MatchString != nil {
		out.MatchString = *r.MatchString
	}
	if r.TrapOID != nil {
		out.TrapOID = *r.TrapOID
	}
	return out
}

func getRule(ctx context.Context, q queryer, id int64) (store.Rule, error) {
	list, err := queryRules(ctx, q, getRuleSQL, id)
	if err != nil {
		return store.Rule{}, err
	}
	if len(list) == 0 {
		return store.Rule{}, store.ErrNotFound
	}
	return list[0], nil
}

func queryRules(ctx context.Context, q queryer, query string, args ...any) ([]store.Rule, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []store.Rule{}
	for rows.Next() {
		var (
			r                    store.Rule
			matchString, trapOID sql.NullString
			severity             sql.NullInt64
		)
		if err := rows.Scan(&r.ID, &matchString, &trapOID, &severity, &r.MatchType, &r.Priority,
			&r.ProdHandling, &r.DevHandling, &r.TeamAssignment, &r.IsActive); err != nil {
			return nil, err
		}
		if matchString.Valid {
			r.MatchString = &matchString.String
		}
		if trapOID.Valid {
			r.TrapOID = &trapOID.String
		}
		if severity.Valid {
			v := int(severity.Int64)
			r.SyslogSeverity = &v
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

func queryStrings(ctx context.Context, q queryer, query string) ([]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	return list, rows.Err()
}

// errNoRow reports whether err is database/sql's "no rows".
func errNoRow(err error) bool { return errors.Is(err, sql.ErrNoRows) }
