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

// breakerView is the Moogsoft circuit breaker as Redis holds it.
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

// depths measures each stream with one pipelined XLEN.
func (u *UI) depths(ctx context.Context, ds []depth) []depth {
	if u.deps.Redis == nil {
		for i := range ds {
			ds[i].Err = "Redis not configured"
		}
		return ds
	}
	cmds := make([]*redis.IntCmd, len(ds))
	_, _ = u.deps.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range ds {
			cmds[i] = p.XLen(ctx, d.Key)
		}
		return nil
	})
	for i, c := range cmds {
		n, err := c.Result()
		if err != nil {
			ds[i].Err = "unavailable"
			u.logger.Warn("dashboard: measuring queue", "key", ds[i].Key, "error", err)
			continue
		}
		ds[i].Length = n
	}
	return ds
}

// breaker reads the shared breaker state (missing means closed: the
// forwarder creates it on first use).
func (u *UI) breaker(ctx context.Context) breakerView {
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
