package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mutt-go/mutt/internal/store"
)

const (
	listDevHostsSQL  = `SELECT hostname FROM development_hosts ORDER BY hostname`
	insertDevHostSQL = `INSERT INTO development_hosts (hostname) VALUES (?)`
	deleteDevHostSQL = `DELETE FROM development_hosts WHERE hostname = ? RETURNING hostname`

	listTeamsSQL  = `SELECT hostname, team_assignment FROM device_teams ORDER BY hostname`
	insertTeamSQL = `INSERT INTO device_teams (hostname, team_assignment) VALUES (?, ?)`
	getTeamSQL    = `SELECT team_assignment FROM device_teams WHERE hostname = ?`
	updateTeamSQL = `UPDATE device_teams SET team_assignment = ? WHERE hostname = ?`
	deleteTeamSQL = `DELETE FROM device_teams WHERE hostname = ? RETURNING team_assignment`
)

// ListDevHosts returns the development hosts ordered by hostname.
func (d *DB) ListDevHosts(ctx context.Context) ([]string, error) {
	hosts, err := queryStrings(ctx, d.r, listDevHostsSQL)
	if err != nil {
		return nil, fmt.Errorf("listing development hosts: %w", err)
	}
	return hosts, nil
}

// AddDevHost marks hostname as a development host and records a CREATE, in
// one transaction. A host already listed gives store.ErrConflict.
func (d *DB) AddDevHost(ctx context.Context, hostname string, a store.Actor) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertDevHostSQL, hostname); err != nil {
			return classify(err)
		}
		_, err := d.recordTx(ctx, tx, a.Change(store.OpCreate, store.DevHostsTable, store.HashRecordID(hostname),
			nil, map[string]any{"hostname": hostname}))
		return err
	})
	if err != nil {
		return fmt.Errorf("adding development host %q: %w", hostname, err)
	}
	return nil
}

// DeleteDevHost removes hostname from the development hosts and records a
// DELETE, in one transaction. A host not listed gives store.ErrNotFound.
func (d *DB) DeleteDevHost(ctx context.Context, hostname string, a store.Actor) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var deleted string
		err := tx.QueryRowContext(ctx, deleteDevHostSQL, hostname).Scan(&deleted)
		if errNoRow(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return classify(err)
		}
		_, err = d.recordTx(ctx, tx, a.Change(store.OpDelete, store.DevHostsTable, store.HashRecordID(hostname),
			map[string]any{"hostname": deleted}, nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting development host %q: %w", hostname, err)
	}
	return nil
}

// ListTeams returns every device team mapping ordered by hostname.
func (d *DB) ListTeams(ctx context.Context) ([]store.Team, error) {
	teams, err := listTeams(ctx, d.r)
	if err != nil {
		return nil, fmt.Errorf("listing device teams: %w", err)
	}
	return teams, nil
}

func listTeams(ctx context.Context, q queryer) ([]store.Team, error) {
	rows, err := q.QueryContext(ctx, listTeamsSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	teams := []store.Team{}
	for rows.Next() {
		var t store.Team
		if err := rows.Scan(&t.Hostname, &t.TeamAssignment); err != nil {
			return nil, err
		}
		teams = append(teams, t)
	}
	return teams, rows.Err()
}

// AddTeam maps t.Hostname to t.TeamAssignment and records a CREATE, in one
// transaction. A host that already has a team gives store.ErrConflict.
func (d *DB) AddTeam(ctx context.Context, t store.Team, a store.Actor) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertTeamSQL, t.Hostname, t.TeamAssignment); err != nil {
			return classify(err)
		}
		_, err := d.recordTx(ctx, tx, a.Change(store.OpCreate, store.TeamsTable, store.HashRecordID(t.Hostname),
			nil, t.Values()))
		return err
	})
	if err != nil {
		return fmt.Errorf("adding team of %q: %w", t.Hostname, err)
	}
	return nil
}

// UpdateTeam moves t.Hostname to t.TeamAssignment and records an UPDATE from
// the previous mapping, in one transaction. A host without a team gives
// store.ErrNotFound.
func (d *DB) UpdateTeam(ctx context.Context, t store.Team, a store.Actor) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		before := store.Team{Hostname: t.Hostname}
		err := tx.QueryRowContext(ctx, getTeamSQL, t.Hostname).Scan(&before.TeamAssignment)
		if errNoRow(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, updateTeamSQL, t.TeamAssignment, t.Hostname); err != nil {
			return classify(err)
		}
		_, err = d.recordTx(ctx, tx, a.Change(store.OpUpdate, store.TeamsTable, store.HashRecordID(t.Hostname),
			before.Values(), t.Values()))
		return err
	})
	if err != nil {
		return fmt.Errorf("updating team of %q: %w", t.Hostname, err)
	}
	return nil
}

// DeleteTeam removes the team mapping of hostname and records a DELETE, in
// one transaction. A host without a team gives store.ErrNotFound.
func (d *DB) DeleteTeam(ctx context.Context, hostname string, a store.Actor) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		before := store.Team{Hostname: hostname}
		err := tx.QueryRowContext(ctx, deleteTeamSQL, hostname).Scan(&before.TeamAssignment)
		if errNoRow(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return classify(err)
		}
		_, err = d.recordTx(ctx, tx, a.Change(store.OpDelete, store.TeamsTable, store.HashRecordID(hostname),
			before.Values(), nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting team of %q: %w", hostname, err)
	}
	return nil
}
