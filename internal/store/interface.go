package store

import "context"

// Interface is what the roles and the API need of a store: rules, the
// development hosts and device teams, the rule set the alerter caches, the
// event audit log and the config audit log. *Store (PostgreSQL) and the
// embedded SQLite store implement it.
type Interface interface {
	Ping(ctx context.Context) error

	ListRules(ctx context.Context) ([]Rule, error)
	GetRule(ctx context.Context, id int64) (Rule, error)
	CreateRule(ctx context.Context, r Rule, a Actor) (int64, error)
	UpdateRule(ctx context.Context, id int64, fields map[string]any, a Actor) error
	DeleteRule(ctx context.Context, id int64, a Actor) error
	LoadRuleSet(ctx context.Context) (RuleSet, error)

	ListDevHosts(ctx context.Context) ([]string, error)
	AddDevHost(ctx context.Context, hostname string, a Actor) error
	DeleteDevHost(ctx context.Context, hostname string, a Actor) error

	ListTeams(ctx context.Context) ([]Team, error)
	AddTeam(ctx context.Context, t Team, a Actor) error
	UpdateTeam(ctx context.Context, t Team, a Actor) error
	DeleteTeam(ctx context.Context, hostname string, a Actor) error

	InsertAudit(ctx context.Context, rows []AuditRow) (int64, error)
	SearchEventAudit(ctx context.Context, f EventAuditFilter) ([]EventAuditRow, int64, bool, error)

	RecordConfigChange(ctx context.Context, c ConfigChange) (int64, error)
	SearchConfigAudit(ctx context.Context, f ConfigAuditFilter) ([]ConfigAuditRow, int64, error)
	// CheckConfigAudit returns an error when config_audit_log cannot be
	// read, so that a caller can refuse a change it could not record.
	CheckConfigAudit(ctx context.Context) error
}

var _ Interface = (*Store)(nil)
