package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Rule is one row of alert_rules as the control plane reads and writes it.
// Unset match string, trap OID and severity are nil and encode as JSON null.
type Rule struct {
	ID             int64   `json:"id"`
	MatchString    *string `json:"match_string"`
	TrapOID        *string `json:"trap_oid"`
	SyslogSeverity *int    `json:"syslog_severity"`
	MatchType      string  `json:"match_type"`
	Priority       int     `json:"priority"`
	ProdHandling   string  `json:"prod_handling"`
	DevHandling    string  `json:"dev_handling"`
	TeamAssignment string  `json:"team_assignment"`
	IsActive       bool    `json:"is_active"`
}

// ruleColumns are the writable columns of alert_rules in canonical order;
// they are the only names UpdateRule ever puts into SQL.
var ruleColumns = [...]string{
	"match_string", "trap_oid", "syslog_severity", "match_type", "priority",
	"prod_handling", "dev_handling", "team_assignment", "is_active",
}

// RuleColumns lists the nine writable columns of alert_rules in canonical
// order: match_string, trap_oid, syslog_severity, match_type, priority,
// prod_handling, dev_handling, team_assignment, is_active.
func RuleColumns() []string {
	return append([]string(nil), ruleColumns[:]...)
}

// rulesTable is the table_name of the config_audit_log rows of rule changes.
const rulesTable = "alert_rules"

const (
	selectRuleColumns = `id, match_string, trap_oid, syslog_severity, match_type, priority,
       prod_handling, dev_handling, team_assignment, is_active`
	listRulesSQL  = `SELECT ` + selectRuleColumns + ` FROM alert_rules ORDER BY priority, id`
	getRuleSQL    = `SELECT ` + selectRuleColumns + ` FROM alert_rules WHERE id = $1`
	lockRuleSQL   = getRuleSQL + ` FOR UPDATE`
	insertRuleSQL = `
INSERT INTO alert_rules (match_string, trap_oid, syslog_severity, match_type, priority,
                         prod_handling, dev_handling, team_assignment, is_active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id`
	deleteRuleSQL = `DELETE FROM alert_rules WHERE id = $1`
)

// ListRules returns every rule, active or not, ordered by priority, then id.
func (s *Store) ListRules(ctx context.Context) ([]Rule, error) {
	rows, err := s.pool.Query(ctx, listRulesSQL)
	if err != nil {
		return nil, fmt.Errorf("listing rules: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanStoreRule)
	if err != nil {
		return nil, fmt.Errorf("listing rules: %w", err)
	}
	return list, nil
}

// GetRule returns the rule with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) GetRule(ctx context.Context, id int64) (Rule, error) {
	r, err := getRule(ctx, s.pool, getRuleSQL, id)
	if err != nil {
		return Rule{}, fmt.Errorf("reading rule %d: %w", id, err)
	}
	return r, nil
}

// CreateRule inserts r (its ID is ignored) and records a CREATE whose new
// values are the nine writable fields, in one transaction; it returns the
// new rule's id.
func (s *Store) CreateRule(ctx context.Context, r Rule, a Actor) (int64, error) {
	if err := checkRuleInts(r.SyslogSeverity, r.Priority); err != nil {
		return 0, fmt.Errorf("creating rule: %w", err)
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, insertRuleSQL, r.MatchString, r.TrapOID, r.SyslogSeverity, r.MatchType,
			r.Priority, r.ProdHandling, r.DevHandling, r.TeamAssignment, r.IsActive).Scan(&id)
		if err != nil {
			return classify(err)
		}
		r.ID = id
		_, err = RecordConfigChangeTx(ctx, tx, a.change(OpCreate, rulesTable, id, nil, r.values()))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("creating rule: %w", err)
	}
	return id, nil
}

// UpdateRule sets the given columns of rule id and records an UPDATE whose
// new values are fields and whose old values are the same columns of the
// row as it was, locked with SELECT … FOR UPDATE in the same transaction.
// Keys must be among RuleColumns; values may be string, *string, int, *int,
// int64, bool, or nil for the nullable columns (nil pointers are NULL).
// An unknown column, a value of the wrong type or one the table's checks
// reject gives an error wrapping ErrInvalidConfigChange and writes nothing;
// a missing rule gives ErrNotFound.
func (s *Store) UpdateRule(ctx context.Context, id int64, fields map[string]any, a Actor) error {
	set, err := ruleAssignments(fields)
	if err != nil {
		return fmt.Errorf("updating rule %d: %w", id, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := getRule(ctx, tx, lockRuleSQL, id)
		if err != nil {
			return err
		}
		clauses := make([]string, len(set))
		args := make([]any, 0, len(set)+1)
		args = append(args, id)
		newValues := make(map[string]any, len(set))
		oldValues := make(map[string]any, len(set))
		all := before.values()
		for i, f := range set {
			clauses[i] = fmt.Sprintf("%s = $%d", pgx.Identifier{f.column}.Sanitize(), i+2)
			args = append(args, f.value)
			newValues[f.column] = f.value
			oldValues[f.column] = all[f.column]
		}
		q := "UPDATE alert_rules SET " + strings.Join(clauses, ", ") + " WHERE id = $1"
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return classify(err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		_, err = RecordConfigChangeTx(ctx, tx, a.change(OpUpdate, rulesTable, id, oldValues, newValues))
		return err
	})
	if err != nil {
		return fmt.Errorf("updating rule %d: %w", id, err)
	}
	return nil
}

// DeleteRule deletes rule id and records a DELETE whose old values are the
// nine writable fields of the deleted row, in one transaction. A missing
// rule gives ErrNotFound; a rule that audited events still reference gives
// ErrReferenced (deactivate it instead).
func (s *Store) DeleteRule(ctx context.Context, id int64, a Actor) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := getRule(ctx, tx, lockRuleSQL, id)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, deleteRuleSQL, id)
		if err != nil {
			return classify(err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		_, err = RecordConfigChangeTx(ctx, tx, a.change(OpDelete, rulesTable, id, before.values(), nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting rule %d: %w", id, err)
	}
	return nil
}

// values returns the nine writable fields of r keyed by column, as the
// audit log records them.
func (r Rule) values() map[string]any {
	return map[string]any{
		"match_string":    r.MatchString,
		"trap_oid":        r.TrapOID,
		"syslog_severity": r.SyslogSeverity,
		"match_type":      r.MatchType,
		"priority":        r.Priority,
		"prod_handling":   r.ProdHandling,
		"dev_handling":    r.DevHandling,
		"team_assignment": r.TeamAssignment,
		"is_active":       r.IsActive,
	}
}

// assignment is one validated column = value of a rule update.
type assignment struct {
	column string
	value  any // nil, string, int or bool
}

// ruleAssignments checks fields against the writable columns and their Go
// types, and returns them in canonical column order with pointers resolved.
func ruleAssignments(fields map[string]any) ([]assignment, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no fields to update", ErrInvalidConfigChange)
	}
	for name := range fields {
		if !isRuleColumn(name) {
			return nil, fmt.Errorf("%w: %q is not a writable rule column", ErrInvalidConfigChange, name)
		}
	}
	set := make([]assignment, 0, len(fields))
	for _, col := range ruleColumns {
		v, ok := fields[col]
		if !ok {
			continue
		}
		val, err := ruleValue(col, v)
		if err != nil {
			return nil, err
		}
		set = append(set, assignment{column: col, value: val})
	}
	return set, nil
}

func isRuleColumn(name string) bool {
	for _, c := range ruleColumns {
		if c == name {
			return true
		}
	}
	return false
}

// ruleValue normalises v for column col, or says why it does not fit.
func ruleValue(col string, v any) (any, error) {
	wrongType := func() error {
		return fmt.Errorf("%w: %s cannot be set to a %T", ErrInvalidConfigChange, col, v)
	}
	switch col {
	case "match_string", "trap_oid":
		switch x := v.(type) {
		case nil:
			return nil, nil
		case string:
			return x, nil
		case *string:
			if x == nil {
				return nil, nil
			}
			return *x, nil
		}
		return nil, wrongType()
	case "syslog_severity", "priority":
		var n *int
		switch x := v.(type) {
		case nil:
		case int:
			n = &x
		case *int:
			n = x
		case int64:
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, fmt.Errorf("%w: %s %d is out of range", ErrInvalidConfigChange, col, x)
			}
			i := int(x)
			n = &i
		default:
			return nil, wrongType()
		}
		if n == nil {
			if col == "priority" {
				return nil, fmt.Errorf("%w: priority cannot be null", ErrInvalidConfigChange)
			}
			return nil, nil
		}
		if *n < math.MinInt32 || *n > math.MaxInt32 {
			return nil, fmt.Errorf("%w: %s %d is out of range", ErrInvalidConfigChange, col, *n)
		}
		return *n, nil
	case "is_active":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if b, ok := v.(*bool); ok && b != nil {
			return *b, nil
		}
		return nil, wrongType()
	default: // match_type and the three handling columns: non-null text
		switch x := v.(type) {
		case string:
			return x, nil
		case *string:
			if x != nil {
				return *x, nil
			}
			return nil, fmt.Errorf("%w: %s cannot be null", ErrInvalidConfigChange, col)
		}
		return nil, wrongType()
	}
}

// checkRuleInts refuses integers the INT columns cannot hold, which pgx
// would otherwise reject with an error of its own.
func checkRuleInts(severity *int, priority int) error {
	if severity != nil && (*severity < math.MinInt32 || *severity > math.MaxInt32) {
		return fmt.Errorf("%w: syslog_severity %d is out of range", ErrInvalidConfigChange, *severity)
	}
	if priority < math.MinInt32 || priority > math.MaxInt32 {
		return fmt.Errorf("%w: priority %d is out of range", ErrInvalidConfigChange, priority)
	}
	return nil
}

// querier is what a pool and a transaction have in common for a query.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// getRule runs a one-rule query (getRuleSQL or lockRuleSQL) on q.
func getRule(ctx context.Context, q querier, sql string, id int64) (Rule, error) {
	rows, err := q.Query(ctx, sql, id)
	if err != nil {
		return Rule{}, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanStoreRule)
	if errors.Is(err, pgx.ErrNoRows) {
		return Rule{}, ErrNotFound
	}
	return r, err
}

func scanStoreRule(row pgx.CollectableRow) (Rule, error) {
	var r Rule
	err := row.Scan(&r.ID, &r.MatchString, &r.TrapOID, &r.SyslogSeverity, &r.MatchType, &r.Priority,
		&r.ProdHandling, &r.DevHandling, &r.TeamAssignment, &r.IsActive)
	return r, err
}

// change builds the audit row of a change made by a.
func (a Actor) change(op, table string, recordID int64, old, new any) ConfigChange {
	return ConfigChange{
		ChangedBy:     a.ChangedBy,
		Operation:     op,
		TableName:     table,
		RecordID:      recordID,
		Old:           old,
		New:           new,
		Reason:        a.Reason,
		CorrelationID: a.CorrelationID,
	}
}

// classify maps PostgreSQL's integrity errors of a configuration write to
// the package's sentinel errors, keeping the original error wrapped too:
// unique violations to ErrConflict, foreign-key violations to ErrReferenced,
// and check, not-null and too-long values to ErrInvalidConfigChange naming
// the constraint or column. Other errors are returned as they are.
func classify(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "23505": // unique_violation
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case "23503": // foreign_key_violation
		return fmt.Errorf("%w: %w", ErrReferenced, err)
	case "23514": // check_violation
		return fmt.Errorf("%w: %s violates %s: %w", ErrInvalidConfigChange, pgErr.TableName, pgErr.ConstraintName, err)
	case "23502": // not_null_violation
		return fmt.Errorf("%w: %s.%s cannot be null: %w", ErrInvalidConfigChange, pgErr.TableName, pgErr.ColumnName, err)
	case "22001", "22003", "22P02": // value too long, out of range, bad text
		return fmt.Errorf("%w: %w", ErrInvalidConfigChange, err)
	}
	return err
}
