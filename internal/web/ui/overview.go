package ui

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/ratestats"
	"github.com/mutt-go/mutt/internal/store"
)

// recentChanges is how many config changes the overview lists.
const recentChanges = 10

// depth is the length of one queue, or why it is unknown.
type depth struct {
	Label, Key, Link string
	Length           int64
	Err              string
}

// breakerView is the Moogsoft circuit breaker as the overview shows it.
type breakerView struct {
	State    string
	Failures string
	OpenedAt time.Time
	Err      string
}

// overviewView is the overview page's data.
type overviewView struct {
	Rates     *ratestats.Report
	RatesErr  bool
	Chart     chart
	Queues    []depth
	DLQs      []depth
	Breaker   breakerView
	Changes   []store.ConfigAuditRow
	ChangeErr bool
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	var v overviewView
	if u.deps.Rates != nil {
		if rep, _, err := u.deps.Rates.Get(ctx); err != nil {
			u.logger.Warn("dashboard: reading ingest rates", "error", err)
			v.RatesErr = true
		} else {
			v.Rates = &rep
			v.Chart = newChart(rep.Chart24h)
		}
	} else {
		v.RatesErr = true
	}
	k := u.deps.Keys
	v.Queues = u.depths(ctx, []depth{{Label: "Ingest queue", Key: k.IngestQueue}, {Label: "Alert queue", Key: k.AlertQueue}})
	var dl []depth
	for _, q := range dlqadmin.Queues(k) {
		dl = append(dl, depth{Label: q.Name, Key: q.Key, Link: "/dlq/" + q.Name})
	}
	v.DLQs = u.depths(ctx, dl)
	v.Breaker = u.breaker(ctx)
	if u.deps.Store != nil {
		rows, _, err := u.deps.Store.SearchConfigAudit(ctx, store.ConfigAuditFilter{Limit: recentChanges})
		if err != nil {
			u.logger.Warn("dashboard: reading recent config changes", "error", err)
			v.ChangeErr = true
		}
		v.Changes = rows
	} else {
		v.ChangeErr = true
	}
	u.render(w, r, http.StatusOK, "overview", view{
		Title: "MUTT Metrics Dashboard", Nav: "overview", CSRF: s.csrf, Flash: takeFlash(w, r),
		Identity: s.id.Name, AutoRefresh: true, Data: v,
	})
}

// QueueDepths measures the queues the overview shows: Redis streams
// (RedisDepths), or the embedded database's queues.
type QueueDepths interface {
	// Depths returns the length of each queue, by key, or the error that
	// left it unknown.
	Depths(ctx context.Context, keys []string) ([]int64, []error)
}

// RedisDepths measures streams with one pipelined XLEN.
type RedisDepths struct{ rdb redis.UniversalClient }

// NewRedisDepths returns the stream lengths of rdb.
func NewRedisDepths(rdb redis.UniversalClient) *RedisDepths { return &RedisDepths{rdb: rdb} }

// Depths runs one XLEN per key in one pipeline.
func (r *RedisDepths) Depths(ctx context.Context, keys []string) ([]int64, []error) {
	cmds := make([]*redis.IntCmd, len(keys))
	_, _ = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.XLen(ctx, k)
		}
		return nil
	})
	lens, errs := make([]int64, len(keys)), make([]error, len(keys))
	for i, c := range cmds {
		lens[i], errs[i] = c.Result()
	}
	return lens, errs
}

// depths measures each queue through Deps.Depths, or Redis.
func (u *UI) depths(ctx context.Context, ds []depth) []depth {
	src := u.deps.Depths
	if src == nil && u.deps.Redis != nil {
		src = NewRedisDepths(u.deps.Redis)
	}
	if src == nil {
		for i := range ds {
			ds[i].Err = "Redis not configured"
		}
		return ds
	}
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = d.Key
	}
	lens, errs := src.Depths(ctx, keys)
	for i := range ds {
		if errs[i] != nil {
			ds[i].Err = "unavailable"
			u.logger.Warn("dashboard: measuring queue", "key", ds[i].Key, "error", errs[i])
			continue
		}
		ds[i].Length = lens[i]
	}
	return ds
}

// BreakerReader reads the forwarder's circuit breaker, as
// forward.Breaker.Status does; it returns ErrNoBreaker when no breaker runs
// where it looks.
type BreakerReader func(ctx context.Context) (forward.BreakerStatus, error)

// ErrNoBreaker is a BreakerReader's answer when the forwarder, and so its
// breaker, does not run in this process.
var ErrNoBreaker = errors.New("no circuit breaker runs in this process")

// breaker reads the breaker through Deps.Breaker, or the shared state in
// Redis (missing means closed: the forwarder creates it on first use).
func (u *UI) breaker(ctx context.Context) breakerView {
	if read := u.deps.Breaker; read != nil {
		st, err := read(ctx)
		switch {
		case errors.Is(err, ErrNoBreaker):
			return breakerView{Err: "no breaker in this process (the forwarder is not running, or its breaker is disabled)"}
		case err != nil:
			u.logger.Warn("dashboard: reading breaker state", "error", err)
			return breakerView{Err: "unavailable"}
		}
		return breakerView{State: st.State, Failures: strconv.FormatInt(st.Failures, 10), OpenedAt: st.OpenedAt.UTC()}
	}
	if u.deps.Redis == nil {
		return breakerView{Err: "Redis not configured"}
	}
	p := u.deps.Keys.BreakerPrefix
	if p == "" {
		p = forward.DefaultBreakerPrefix
	}
	vals, err := u.deps.Redis.MGet(ctx, p+":state", p+":failures", p+":open_time").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		u.logger.Warn("dashboard: reading breaker state", "error", err)
		return breakerView{Err: "unavailable"}
	}
	b := breakerView{State: forward.StateClosed, Failures: "0"}
	if s, ok := vals[0].(string); ok && s != "" {
		b.State = s
	}
	if s, ok := vals[1].(string); ok && s != "" {
		b.Failures = s
	}
	if s, ok := vals[2].(string); ok && b.State != forward.StateClosed {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			b.OpenedAt = time.Unix(0, int64(f*float64(time.Second))).UTC()
		}
	}
	return b
}
