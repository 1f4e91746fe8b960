package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store runs MUTT's queries on a connection pool. It is safe for concurrent
// use; it holds no state besides the pool, which the caller owns and closes,
// and buffers it reuses.
type Store struct {
	pool *pgxpool.Pool
	// copyBufs holds *[]byte buffers for encoding audit batches.
	copyBufs sync.Pool
}

// New returns a Store that runs its queries on pool.
func New(pool *pgxpool.Pool) *Store {
	s := &Store{pool: pool}
	s.copyBufs.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	return s
}

// Ping checks that PostgreSQL answers a query on a pooled connection.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("pinging postgresql: %w", err)
	}
	return nil
}

// InTx runs fn in a transaction that commits when fn returns nil and rolls
// back otherwise, so that a caller outside this package can pair a change
// of its own with RecordConfigChangeTx.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}
