package web

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/mutt-go/mutt/internal/config"
)

// pingFunc is a Pinger.
type pingFunc func(context.Context) error

func (f pingFunc) Ping(ctx context.Context) error { return f(ctx) }

func TestHealthPingsHealthInsteadOfRedis(t *testing.T) {
	down := errors.New("database file is gone")
	tests := []struct {
		name  string
		ping  error
		want  int
		error string
	}{
		{"answers", nil, 200, ""},
		{"fails", down, 503, "embedded database unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pinged atomic.Bool
			e := newEnv(t, func(_ *config.Web, d *Deps) {
				d.Redis = nil
				d.Health = pingFunc(func(context.Context) error { pinged.Store(true); return tt.ping })
			})
			m := e.do(req{method: "GET", path: "/health", noKey: true}).want(t, tt.want).json(t)
			if !pinged.Load() || tt.error != "" && m["error"] != tt.error {
				t.Errorf("health %v, pinged %v", m, pinged.Load())
			}
			if _, ok := m["redis"]; tt.want == 200 && (ok || m["storage"] != "embedded") {
				t.Errorf("healthy answer without Redis %v: want storage embedded and no redis", m)
			}
		})
	}
}
