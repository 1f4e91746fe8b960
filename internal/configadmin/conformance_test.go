package configadmin_test

import (
	"log/slog"
	"testing"

	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/dynconfig/dynconfigtest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

func TestRedisPostgresConformance(t *testing.T) {
	dynconfigtest.Run(t, func(t *testing.T) dynconfigtest.Target {
		rdb, prefix := itest.Redis(t)
		pool, _ := itest.Pool(t)
		if err := store.Migrate(t.Context(), pool, nil); err != nil {
			t.Fatalf("migrating: %v", err)
		}
		st := store.New(pool)
		return dynconfigtest.Target{
			Backend: configadmin.NewRedisPostgres(rdb, prefix+":config", st, slog.New(slog.DiscardHandler)),
			Audit:   st,
		}
	})
}
