package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/queue"
)

// dlqPageLimit bounds the entries one queue page shows.
const dlqPageLimit = 100

// dlqListView is the DLQ overview's data.
type dlqListView struct {
	Queues []depth
}

func (u *UI) dlqList(w http.ResponseWriter, r *http.Request, s *session) {
	var ds []depth
	for _, q := range dlqadmin.Queues(u.deps.Keys) {
		ds = append(ds, depth{Label: q.Name, Key: q.Key, Link: "/dlq/" + q.Name})
	}
	u.show(w, r, s, http.StatusOK, "dlq", "dlq", "Dead-letter queues", dlqListView{Queues: u.depths(r.Context(), ds)})
}

// dlqEntry is one entry as the queue page shows it.
type dlqEntry struct {
	ID, Age, WrittenAt                                   string
	Reason, Replays, Attempts, Deliveries, Status, Error string
	Fields                                               [][2]string
	Payload                                              string
}

// dlqQueueView is one queue's page data.
type dlqQueueView struct {
	Queue      dlqadmin.Queue
	Target     string
	Reason     string // the reason filter
	Entries    []dlqEntry
	Shown      int
	Matched    int
	Total      int64
	MaxReplays int
}

// pathQueue resolves {queue}; it answers 404 itself.
func (u *UI) pathQueue(w http.ResponseWriter, r *http.Request, s *session) (dlqadmin.Queue, bool) {
	q, err := dlqadmin.Resolve(u.deps.Keys, r.PathValue("queue"))
	if err != nil || q.Key == "" {
		u.notFound(w, r, s)
		return q, false
	}
	if u.deps.DLQ == nil {
		u.errorPage(w, r, s, http.StatusServiceUnavailable, "Redis is not configured.")
		return q, false
	}
	return q, true
}

func (u *UI) dlqQueue(w http.ResponseWriter, r *http.Request, s *session) {
	q, ok := u.pathQueue(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	v := dlqQueueView{Queue: q, Target: q.Target, Reason: strings.TrimSpace(r.URL.Query().Get("reason")), MaxReplays: u.deps.MaxReplays}
	if v.Target == "" {
		v.Target = "the queue each entry came from"
	}
	sel := dlqadmin.Selector{Limit: dlqPageLimit}
	if v.Reason != "" {
		sel.Reasons = map[string]bool{v.Reason: true}
	}
	entries, matched, err := sel.SelectFrom(ctx, u.deps.DLQ, q)
	if err != nil {
		u.failed(w, r, s, "reading "+q.Key, err)
		return
	}
	total, err := u.deps.DLQ.Len(ctx, q.Key)
	if err != nil {
		u.failed(w, r, s, "measuring "+q.Key, err)
		return
	}
	now := time.Now()
	for _, e := range entries {
		v.Entries = append(v.Entries, viewEntry(e, now))
	}
	v.Shown, v.Matched, v.Total = len(entries), matched, total
	u.show(w, r, s, http.StatusOK, "dlq_queue", "dlq", "DLQ "+q.Name, v)
}

// entryFieldOrder are the fields shown first, in this order.
var entryFieldOrder = []string{"reason", "error", "status", "attempts", "deliveries", "replays",
	"source", "source_id", "origin", "origin_id", "failed_at"}

func viewEntry(e queue.Entry, now time.Time) dlqEntry {
	d := dlqEntry{ID: e.ID, WrittenAt: e.Time().Format(time.RFC3339), Age: age(now.Sub(e.Time())),
		Reason: e.Fields["reason"], Replays: e.Fields[queue.ReplaysField], Attempts: e.Fields["attempts"],
		Deliveries: e.Fields["deliveries"], Status: e.Fields["status"], Error: shorten(e.Fields["error"], 80),
		Payload: string(dlqadmin.RedactPayload(e.Payload()))}
	seen := map[string]bool{queue.PayloadField: true}
	for _, k := range entryFieldOrder {
		if v, ok := e.Fields[k]; ok {
			d.Fields = append(d.Fields, [2]string{k, v})
			seen[k] = true
		}
	}
	var rest []string
	for k := range e.Fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		d.Fields = append(d.Fields, [2]string{k, e.Fields[k]})
	}
	return d
}

func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// dlqReplay replays the checked entries (or, with "all", every entry with
// the filtered reason) as `mutt dlq replay` does, and records the change.
func (u *UI) dlqReplay(w http.ResponseWriter, r *http.Request, s *session) {
	q, ok := u.pathQueue(w, r, s)
	if !ok {
		return
	}
	back := "/dlq/" + q.Name
	if err := r.ParseForm(); err != nil {
		u.redirect(w, r, back, flash{Text: "The form could not be read.", Error: true})
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("filter_reason"))
	if reason != "" {
		back += "?reason=" + url.QueryEscape(reason)
	}
	maxReplays := u.deps.MaxReplays
	if m := strings.TrimSpace(r.PostForm.Get("max_replays")); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			u.redirect(w, r, back, flash{Text: "Max replays must be 0 or more.", Error: true})
			return
		}
		maxReplays = n
	}
	sel := dlqadmin.Selector{DropPayload: true}
	filters := map[string]any{}
	switch {
	case r.PostForm.Get("all") != "":
		if reason != "" {
			sel.Reasons = map[string]bool{reason: true}
			filters["reasons"] = []string{reason}
		}
		filters["all"] = true
	case len(r.PostForm["id"]) > 0:
		for _, raw := range r.PostForm["id"] {
			id, err := dlqadmin.NormalizeID(raw)
			if err != nil {
				u.redirect(w, r, back, flash{Text: err.Error(), Error: true})
				return
			}
			if !slices.Contains(sel.IDs, id) {
				sel.IDs = append(sel.IDs, id)
			}
		}
		filters["by_id"] = true
	default:
		u.redirect(w, r, back, flash{Text: "Tick the entries to replay, or tick \"Every entry\".", Error: true})
		return
	}
	if u.deps.Store == nil {
		u.errorPage(w, r, s, http.StatusServiceUnavailable, "The database is not configured: a replay must be audited.")
		return
	}
	ctx := r.Context()
	if err := u.deps.Store.CheckConfigAudit(ctx); err != nil {
		u.failed(w, r, s, "checking the audit log before a replay (nothing changed)", err)
		return
	}
	entries, _, err := sel.SelectFrom(ctx, u.deps.DLQ, q)
	if errors.Is(err, dlqadmin.ErrNoEntry) {
		u.redirect(w, r, back, flash{Text: err.Error() + " (already replayed or purged?); nothing changed.", Error: true})
		return
	}
	if err != nil {
		u.failed(w, r, s, "selecting entries of "+q.Key, err)
		return
	}
	plan := dlqadmin.PlanReplay(u.deps.Keys, q, entries, maxReplays)
	if plan.Count() == 0 {
		u.redirect(w, r, back, flash{Text: fmt.Sprintf("Nothing to replay (%d skipped: unknown source or at the replay limit).",
			len(plan.Unknown)+len(plan.AtLimit)), Error: true})
		return
	}
	out, replayErr := dlqadmin.ReplayOn(ctx, u.deps.DLQ, u.deps.Keys, q, plan)
	change := dlqadmin.ReplayChange(q, plan, filters, out, replayErr, u.actor(r, s))
	// The change is made: a closed browser must not cost its record.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	_, auditErr := u.deps.Store.RecordConfigChange(actx, change)
	msg := fmt.Sprintf("Replayed %d to %s, sent %d to %s (over %d replays), %d missing.",
		out.Replayed, plan.TargetKeys(), out.Dead, u.deps.Keys.DeadDLQ, maxReplays, out.Missing)
	if skipped := len(plan.Unknown) + len(plan.AtLimit); skipped > 0 {
		msg += fmt.Sprintf(" Skipped %d (unknown source or at the replay limit).", skipped)
	}
	if replayErr != nil || auditErr != nil {
		u.logger.Error("dashboard: DLQ replay incomplete", "queue", q.Key, "replay_error", replayErr,
			"audit_error", auditErr, "correlation_id", change.CorrelationID, "audit_row", fmt.Sprintf("%+v", change))
		msg += " Something failed; see the server log under correlation id " + change.CorrelationID + "."
		u.redirect(w, r, back, flash{Text: msg, Error: true})
		return
	}
	u.redirect(w, r, back, flash{Text: msg})
}
