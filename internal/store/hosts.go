package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// devHostsTable is the table_name of the config_audit_log rows of
// development host changes.
const devHostsTable = "development_hosts"

const (
	listDevHostsSQL  = `SELECT hostname FROM development_hosts ORDER BY hostname`
	insertDevHostSQL = `INSERT INTO development_hosts (hostname) VALUES ($1)`
	deleteDevHostSQL = `DELETE FROM development_hosts WHERE hostname = $1 RETURNING hostname`
)

// ListDevHosts returns the development hosts ordered by hostname.
func (s *Store) ListDevHosts(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, listDevHostsSQL)
	if err != nil {
		return nil, fmt.Errorf("listing development hosts: %w", err)
	}
	hosts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing development hosts: %w", err)
	}
	return hosts, nil
}

// AddDevHost marks hostname as a development host and records a CREATE, in
// one transaction. A host already listed gives ErrConflict.
func (s *Store) AddDevHost(ctx context.Context, hostname string, a Actor) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertDevHostSQL, hostname); err != nil {
			return classify(err)
		}
		_, err := RecordConfigChangeTx(ctx, tx, a.change(OpCreate, devHostsTable, HashRecordID(hostname),
			nil, map[string]any{"hostname": hostname}))
		return err
	})
	if err != nil {
		return fmt.Errorf("adding development host %q: %w", hostname, err)
	}
	return nil
}

// DeleteDevHost removes hostname from the development hosts and records a
// DELETE, in one transaction. A host not listed gives ErrNotFound.
func (s *Store) DeleteDevHost(ctx context.Context, hostname string, a Actor) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var deleted string
		err := tx.QueryRow(ctx, deleteDevHostSQL, hostname).Scan(&deleted)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return classify(err)
		}
		_, err = RecordConfigChangeTx(ctx, tx, a.change(OpDelete, devHostsTable, HashRecordID(hostname),
			map[string]any{"hostname": deleted}, nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting development host %q: %w", hostname, err)
	}
	return nil
}
