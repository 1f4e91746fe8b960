package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/store"
)

func (s *Server) handleEventAudit(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	page, limit := s.pageParams(r)
	q := r.URL.Query()
	f := store.EventAuditFilter{Hostname: q.Get("hostname"), Limit: limit, Offset: offset(page, limit)}
	if v := strings.TrimSpace(q.Get("rule_id")); v != "" {
		id, _, ok := ParseID(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid rule_id: must be an integer from 0 to "+strconv.Itoa(MaxID))
			return
		}
		f.RuleID = &id
	}
	var err error
	if f.Start, err = dateParam(r, "start_date"); answerBad(w, err) {
		return
	}
	if f.End, err = dateParam(r, "end_date"); answerBad(w, err) {
		return
	}
	rows, total, estimated, err := s.deps.Store.SearchEventAudit(r.Context(), f)
	if err != nil {
		s.internalError(w, r, "searching the event audit log", err)
		return
	}
	if rows == nil {
		rows = []store.EventAuditRow{}
	}
	p := newPagination(page, limit, total)
	p.TotalEstimated = estimated
	writeJSON(w, http.StatusOK, map[string]any{"logs": rows, "pagination": p})
}

// handleConfigAudit answers the config audit query with the rows under
// listKey ("logs" for /audit, "changes" for /config-audit).
func (s *Server) handleConfigAudit(listKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status := "error"
		defer func() {
			s.metrics.apiRequests.WithLabelValues("audit", status).Inc()
			s.metrics.apiLatency.WithLabelValues("audit").Observe(time.Since(start).Seconds())
		}()
		if !s.needStore(w) {
			return
		}
		page, limit := s.pageParams(r)
		q := r.URL.Query()
		f := store.ConfigAuditFilter{
			ChangedBy: q.Get("changed_by"), TableName: q.Get("table_name"), Limit: limit, Offset: offset(page, limit),
		}
		if op := strings.ToUpper(strings.TrimSpace(q.Get("operation"))); op != "" {
			switch op {
			case store.OpCreate, store.OpUpdate, store.OpDelete:
				f.Operation = op
			default:
				status = "error_invalid"
				writeError(w, http.StatusBadRequest, "operation must be one of: CREATE, UPDATE, DELETE")
				return
			}
		}
		if v := strings.TrimSpace(q.Get("record_id")); v != "" {
			// A non-numeric id matches nothing, as it always has; a
			// number no row can have is a mistake worth saying.
			id, err := strconv.ParseInt(v, 10, 32)
			switch {
			case errors.Is(err, strconv.ErrRange):
				status = "error_invalid"
				writeError(w, http.StatusBadRequest, "invalid record_id: must be an integer from 0 to "+strconv.Itoa(MaxID))
				return
			case err != nil:
				id = 0
			}
			f.RecordID = &id
		}
		var err error
		if f.Start, err = dateParam(r, "start_date"); err != nil {
			status = "error_invalid"
			answerBad(w, err)
			return
		}
		if f.End, err = dateParam(r, "end_date"); err != nil {
			status = "error_invalid"
			answerBad(w, err)
			return
		}
		rows, total, err := s.deps.Store.SearchConfigAudit(r.Context(), f)
		if err != nil {
			s.internalError(w, r, "searching the config audit log", err)
			return
		}
		if rows == nil {
			rows = []store.ConfigAuditRow{}
		}
		status = "success"
		writeJSON(w, http.StatusOK, map[string]any{listKey: rows, "pagination": newPagination(page, limit, total)})
	}
}

// historyRow is a config_audit_log row of the dynamic config history; it
// carries the change time as both created_at and changed_at.
type historyRow struct {
	store.ConfigAuditRow
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) handleConfigHistory(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	page, limit := s.pageParams(r)
	rows, total, err := s.deps.Store.SearchConfigAudit(r.Context(), store.ConfigAuditFilter{
		TableName: configadmin.AuditTable, Limit: limit, Offset: offset(page, limit), OrderByID: true,
	})
	if err != nil {
		s.internalError(w, r, "reading the dynamic config history", err)
		return
	}
	out := make([]historyRow, len(rows))
	for i, row := range rows {
		out[i] = historyRow{ConfigAuditRow: row, CreatedAt: row.ChangedAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": out, "pagination": newPagination(page, limit, total)})
}
