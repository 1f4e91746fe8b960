package ratestats_test

import (
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/ratestats"
	"github.com/mutt-go/mutt/internal/ratestats/ratestatstest"
)

func TestRedisSourceConformance(t *testing.T) {
	ratestatstest.Run(t, func(t *testing.T) ratestatstest.Target {
		rdb, prefix := itest.Redis(t)
		prefix += ":metrics"
		return ratestatstest.Target{
			Source: ratestats.NewRedisSource(rdb, prefix),
			// The ingest producer's INCRBY of the minute and hour keys.
			Add: func(t *testing.T, at time.Time, events int64) {
				at = at.UTC()
				for _, k := range []string{prefix + ":1m:" + at.Format("2006-01-02T15:04"), prefix + ":1h:" + at.Format("2006-01-02T15")} {
					if err := rdb.IncrBy(t.Context(), k, events).Err(); err != nil {
						t.Fatal(err)
					}
				}
			},
		}
	})
}
