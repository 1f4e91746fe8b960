package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/store"
)

// Window is the throughput of one stretch of a long drain.
type Window struct {
	// From and To are the events drained (audit rows written, for the
	// ceiling) before and at the end of the window.
	From            int64   `json:"from"`
	To              int64   `json:"to"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	// CeilingPerSecond is the same window's rate in the ceiling run (rows
	// From to To of the table), 0 without one.
	CeilingPerSecond float64 `json:"ceiling_rows_per_second,omitempty"`
	// ReferencePerSecond is the same for the reference ceiling.
	ReferencePerSecond float64 `json:"reference_rows_per_second,omitempty"`
}

// Ceiling is what PostgreSQL alone does with a drain's audit writes.
type Ceiling struct {
	What          string   `json:"what"`
	Rows          int64    `json:"rows"`
	Seconds       float64  `json:"seconds"`
	RowsPerSecond float64  `json:"rows_per_second"`
	Windows       []Window `json:"windows,omitempty"`
	// Ratio is the drain's events/s over RowsPerSecond.
	Ratio float64 `json:"ratio"`
	// PostgresSeconds is the CPU time of this machine's postgres processes
	// during the ceiling run.
	PostgresSeconds float64 `json:"postgres_seconds"`
	Waits           []Wait  `json:"waits,omitempty"`
}

// Wait is one kind of wait of the scratch database's busy backends, as
// pg_stat_activity showed them, with the share of samples it took.
type Wait struct {
	Event string  `json:"event"` // wait_event_type:wait_event, or "CPU" for none
	Share float64 `json:"share"` // of the samples of active backends
}

// windowMarks turns polls of a drain's progress into per-window rates.
// Only the goroutine that polls calls drained.
type windowMarks struct {
	start        time.Time
	total, every int64
	marks        []Window
	lastN        int64
	lastAt       time.Time
}

func newWindowMarks(start time.Time, total, every int64) *windowMarks {
	return &windowMarks{start: start, total: total, every: every, lastAt: start}
}

// drained records that n events were done at at. Window k ends at the
// first poll at or past k × every events (or the total), so its rate is
// over the events actually done in it.
func (w *windowMarks) drained(n int64, at time.Time) {
	if w == nil || w.every <= 0 {
		return
	}
	next := (w.lastN/w.every + 1) * w.every
	if n < min(next, w.total) {
		return
	}
	secs := at.Sub(w.lastAt).Seconds()
	win := Window{From: w.lastN, To: n, Seconds: secs}
	if secs > 0 {
		win.EventsPerSecond = float64(n-w.lastN) / secs
	}
	w.marks = append(w.marks, win)
	w.lastN, w.lastAt = n, at
}

func (w *windowMarks) windows() []Window {
	if w == nil {
		return nil
	}
	return w.marks
}

// AuditCeiling measures PostgreSQL's ceiling for a drain's audit writes:
// the rows the alerter wrote (the same events, decided by the same rules,
// with new event ids) are inserted again through store.InsertAudit into the
// emptied audit table, in batches of batch rows from workers goroutines, the
// alerter's own shape, with no Redis, no decoding and no rule matching in
// the timed part. Then the same again through store.InsertAuditStatement,
// the INSERT … ON CONFLICT the alerter sent before it used COPY, as the
// reference. The table is emptied at the end.
func (e *Env) AuditCeiling(ctx context.Context, st *store.Store, o AlerterOptions, snap *rules.Snapshot,
	workers, batch int) (same, reference Ceiling, err error) {
	rows, err := auditRows(o, snap, e.cfg.Ingest.RequiredFields)
	if err != nil {
		return same, reference, err
	}
	shape := fmt.Sprintf("%d connections, batches of %d", workers, batch)
	same, err = e.insertAlone(ctx, "store.InsertAudit (binary COPY) alone, "+shape, st.InsertAudit, rows, workers, batch, o.Window)
	if err != nil {
		return same, reference, err
	}
	for i := range rows {
		id, err := uuid.NewV7()
		if err != nil {
			return same, reference, fmt.Errorf("making an event id: %w", err)
		}
		rows[i].EventID = id.String()
	}
	reference, err = e.insertAlone(ctx, "store.InsertAuditStatement (INSERT … ON CONFLICT) alone, "+shape,
		st.InsertAuditStatement, rows, workers, batch, o.Window)
	return same, reference, err
}

// insertAlone times writing rows into the emptied audit table with insert,
// from workers goroutines taking batches of batch rows.
func (e *Env) insertAlone(ctx context.Context, what string, insert func(context.Context, []store.AuditRow) (int64, error),
	rows []store.AuditRow, workers, batch, window int) (Ceiling, error) {
	c := Ceiling{What: what}
	if _, err := e.pool.Exec(ctx, "TRUNCATE event_audit_log"); err != nil {
		return c, fmt.Errorf("emptying the audit table: %w", err)
	}
	e.checkpoint(ctx)
	before := sampleCPU()
	waits := e.sampleWaits(ctx)
	start := time.Now()
	var (
		next, done atomic.Int64
		mu         sync.Mutex
		marks      = newWindowMarks(start, int64(len(rows)), int64(window))
		firstErr   error
		wg         sync.WaitGroup
	)
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(int64(batch))) - batch
				if i >= len(rows) || ctx.Err() != nil {
					return
				}
				part := rows[i:min(i+batch, len(rows))]
				if _, err := insert(ctx, part); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					return
				}
				n := done.Add(int64(len(part)))
				mu.Lock()
				marks.drained(n, time.Now())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	c.Waits = waits.stop()
	c.PostgresSeconds = (sampleCPU().postgres - before.postgres).Seconds()
	if firstErr != nil {
		return c, fmt.Errorf("ceiling insert: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return c, err
	}
	c.Rows = done.Load()
	c.Seconds = elapsed.Seconds()
	c.RowsPerSecond = float64(c.Rows) / c.Seconds
	c.Windows = marks.windows()
	var n int64
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM event_audit_log").Scan(&n); err != nil {
		return c, fmt.Errorf("counting ceiling rows: %w", err)
	}
	if n != int64(len(rows)) {
		return c, fmt.Errorf("the ceiling run wrote %d audit rows, want %d", n, len(rows))
	}
	if _, err := e.pool.Exec(ctx, "TRUNCATE event_audit_log"); err != nil {
		return c, fmt.Errorf("emptying the audit table: %w", err)
	}
	return c, nil
}

// auditRows builds the audit rows the alerter writes for the run's events.
func auditRows(o AlerterOptions, snap *rules.Snapshot, required []string) ([]store.AuditRow, error) {
	payloads, _, err := prepareEvents(o.Events, o.Seed, snap, required)
	if err != nil {
		return nil, err
	}
	opts := &event.Options{RequiredFields: required}
	rows := make([]store.AuditRow, 0, len(payloads))
	for i, p := range payloads {
		ev, err := event.Decode(p, opts)
		if err != nil {
			return nil, fmt.Errorf("decoding generated event %d: %w", i, err)
		}
		d := snap.Decide(rules.Event{Hostname: ev.Hostname, Message: ev.Message, TrapOID: ev.TrapOID, Severity: ev.Severity})
		if d.Rule == nil {
			continue
		}
		rows = append(rows, store.AuditRow{
			EventID: ev.ID, Timestamp: ev.Timestamp, Hostname: ev.Hostname, RuleID: d.Rule.ID,
			Handling: d.Handling, Forwarded: d.Forward, Raw: ev.JSON,
		})
	}
	return rows, nil
}

// addCeiling puts the ceiling's window rates beside the drain's and works
// out the ratios.
func (r *Result) addCeiling() {
	for _, c := range []*Ceiling{r.Ceiling, r.Reference} {
		if c != nil && c.RowsPerSecond > 0 {
			c.Ratio = r.EventsPerSecond / c.RowsPerSecond
		}
	}
	for i := range r.Windows {
		if c := r.Ceiling; c != nil && i < len(c.Windows) {
			r.Windows[i].CeilingPerSecond = c.Windows[i].EventsPerSecond
		}
		if ref := r.Reference; ref != nil && i < len(ref.Windows) {
			r.Windows[i].ReferencePerSecond = ref.Windows[i].EventsPerSecond
		}
	}
}

// checkpoint asks PostgreSQL for a checkpoint before a timed part, so that
// each starts with no checkpoint debt of the part before. It needs the
// pg_checkpoint role (or a superuser); without it the run goes on.
func (e *Env) checkpoint(ctx context.Context) {
	if _, err := e.pool.Exec(ctx, "CHECKPOINT"); err != nil {
		e.logger.Warn("no checkpoint before the timed part", "error", err)
	}
}

// waitSampler polls pg_stat_activity for the scratch database's active
// backends every 10 ms.
type waitSampler struct {
	stop func() []Wait
}

// sampleWaits starts sampling the wait events of the scratch database's
// active backends (other than the sampler's own); stop ends it and returns
// the share of each wait, CPU (no wait) included, largest first.
func (e *Env) sampleWaits(ctx context.Context) waitSampler {
	ctx, cancel := context.WithCancel(ctx)
	counts := map[string]int{}
	var total int
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rows, err := e.pool.Query(ctx, `
				SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')
				FROM pg_stat_activity
				WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
				  AND backend_type = 'client backend'`)
			if err != nil {
				continue
			}
			for rows.Next() {
				var w string
				if rows.Scan(&w) == nil {
					counts[w]++
					total++
				}
			}
			rows.Close()
		}
	})
	return waitSampler{stop: func() []Wait {
		cancel()
		wg.Wait()
		out := make([]Wait, 0, len(counts))
		for w, n := range counts {
			out = append(out, Wait{Event: w, Share: float64(n) / float64(total)})
		}
		slices.SortFunc(out, func(a, b Wait) int {
			if c := cmp.Compare(b.Share, a.Share); c != 0 {
				return c
			}
			return cmp.Compare(a.Event, b.Event)
		})
		return out
	}}
}
