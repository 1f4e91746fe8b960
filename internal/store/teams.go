package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Team is one row of device_teams: the team that handles a device's alerts.
type Team struct {
	Hostname       string `json:"hostname"`
	TeamAssignment string `json:"team_assignment"`
}

// teamsTable is the table_name of the config_audit_log rows of device team
// changes.
const teamsTable = "device_teams"

const (
	listTeamsSQL  = `SELECT hostname, team_assignment FROM device_teams ORDER BY hostname`
	insertTeamSQL = `INSERT INTO device_teams (hostname, team_assignment) VALUES ($1, $2)`
	lockTeamSQL   = `SELECT team_assignment FROM device_teams WHERE hostname = $1 FOR UPDATE`
	updateTeamSQL = `UPDATE device_teams SET team_assignment = $2 WHERE hostname = $1`
	deleteTeamSQL = `DELETE FROM device_teams WHERE hostname = $1 RETURNING team_assignment`
)

// ListTeams returns every device team mapping ordered by hostname.
func (s *Store) ListTeams(ctx context.Context) ([]Team, error) {
	rows, err := s.pool.Query(ctx, listTeamsSQL)
	if err != nil {
		return nil, fmt.Errorf("listing device teams: %w", err)
	}
	teams, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Team])
	if err != nil {
		return nil, fmt.Errorf("listing device teams: %w", err)
	}
	return teams, nil
}

// AddTeam maps t.Hostname to t.TeamAssignment and records a CREATE, in one
// transaction. A host that already has a team gives ErrConflict.
func (s *Store) AddTeam(ctx context.Context, t Team, a Actor) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertTeamSQL, t.Hostname, t.TeamAssignment); err != nil {
			return classify(err)
		}
		_, err := RecordConfigChangeTx(ctx, tx, a.change(OpCreate, teamsTable, HashRecordID(t.Hostname),
			nil, t.values()))
		return err
	})
	if err != nil {
		return fmt.Errorf("adding team of %q: %w", t.Hostname, err)
	}
	return nil
}

// UpdateTeam moves t.Hostname to t.TeamAssignment and records an UPDATE from
// the previous mapping, read under a row lock, in one transaction. A host
// without a team gives ErrNotFound.
func (s *Store) UpdateTeam(ctx context.Context, t Team, a Actor) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before := Team{Hostname: t.Hostname}
		err := tx.QueryRow(ctx, lockTeamSQL, t.Hostname).Scan(&before.TeamAssignment)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, updateTeamSQL, t.Hostname, t.TeamAssignment); err != nil {
			return classify(err)
		}
		_, err = RecordConfigChangeTx(ctx, tx, a.change(OpUpdate, teamsTable, HashRecordID(t.Hostname),
			before.values(), t.values()))
		return err
	})
	if err != nil {
		return fmt.Errorf("updating team of %q: %w", t.Hostname, err)
	}
	return nil
}

// DeleteTeam removes the team mapping of hostname and records a DELETE, in
// one transaction. A host without a team gives ErrNotFound.
func (s *Store) DeleteTeam(ctx context.Context, hostname string, a Actor) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before := Team{Hostname: hostname}
		err := tx.QueryRow(ctx, deleteTeamSQL, hostname).Scan(&before.TeamAssignment)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return classify(err)
		}
		_, err = RecordConfigChangeTx(ctx, tx, a.change(OpDelete, teamsTable, HashRecordID(hostname),
			before.values(), nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting team of %q: %w", hostname, err)
	}
	return nil
}

// values returns t as the audit log records it.
func (t Team) values() map[string]any {
	return map[string]any{"hostname": t.Hostname, "team_assignment": t.TeamAssignment}
}
