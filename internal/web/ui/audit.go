package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web"
)

// Page sizes of the audit searches.
const (
	configAuditPageSize = 20
	eventAuditPageSize  = 50
)

// pager is Previous / Page X of Y / Next.
type pager struct {
	Page, Pages int
	Total       int64
	Estimated   bool
	Prev, Next  string // links; "" at the ends
}

func newPager(q url.Values, page int, total int64, size int) pager {
	p := pager{Page: page, Total: total, Pages: int((total + int64(size) - 1) / int64(size))}
	if p.Pages < 1 {
		p.Pages = 1
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" {
				v[k] = vs
			}
		}
		v.Set("page", strconv.Itoa(n))
		return "?" + v.Encode()
	}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if page < p.Pages {
		p.Next = link(page + 1)
	}
	return p
}

// pageNumber reads ?page=, 1 when absent or bad.
func pageNumber(q url.Values) int {
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 1_000_000)
}

// dateLayout is what a datetime-local input sends; the pages say the times
// are UTC.
const dateLayout = "2006-01-02T15:04"

// parseWhen reads a datetime-local value (seconds optional) or RFC 3339.
func parseWhen(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{dateLayout, "2006-01-02T15:04:05", time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("use YYYY-MM-DDTHH:MM (UTC)")
}

// configAuditView is the config audit page's data.
type configAuditView struct {
	ChangedBy, Operation, Table, RecordID, Start, End string
	Rows                                              []auditRow
	Pager                                             pager
	Errors                                            map[string]string
	Operations                                        []string
	Tables                                            [][2]string // value, label
}

// auditRow is one config_audit_log row with its Changes summary.
type auditRow struct {
	store.ConfigAuditRow
	Summary string
}

// summarize is the Changes column: CREATE → "Created with N fields",
// UPDATE → "Updated N field(s)", DELETE → "Record deleted", N being the
// number of keys of new_values.
func summarize(row store.ConfigAuditRow) string {
	n := 0
	if len(row.NewValues) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(row.NewValues, &m) == nil {
			n = len(m)
		}
	}
	switch row.Operation {
	case store.OpCreate:
		return fmt.Sprintf("Created with %d fields", n)
	case store.OpUpdate:
		return fmt.Sprintf("Updated %d field(s)", n)
	case store.OpDelete:
		return "Record deleted"
	}
	return row.Operation
}

func (u *UI) configAudit(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	v := configAuditView{
		ChangedBy: strings.TrimSpace(q.Get("changed_by")), Operation: q.Get("operation"), Table: q.Get("table_name"),
		RecordID: strings.TrimSpace(q.Get("record_id")), Start: q.Get("start_date"), End: q.Get("end_date"),
		Errors:     map[string]string{},
		Operations: []string{store.OpCreate, store.OpUpdate, store.OpDelete},
		Tables: [][2]string{{"alert_rules", "Alert Rules"}, {"dynamic_config", "Dynamic Config"},
			{"development_hosts", "Dev Hosts"}, {"device_teams", "Device Teams"}, {"redis_dlq", "Dead-letter queues"}},
	}
	page := pageNumber(q)
	f := store.ConfigAuditFilter{ChangedBy: v.ChangedBy, TableName: v.Table, Limit: configAuditPageSize,
		Offset: (page - 1) * configAuditPageSize}
	switch v.Operation {
	case "", store.OpCreate, store.OpUpdate, store.OpDelete:
		f.Operation = v.Operation
	default:
		v.Errors["operation"] = "Choose CREATE, UPDATE or DELETE."
	}
	f.RecordID = idFilter(v.RecordID, "record_id", "Enter a record number.", v.Errors)
	f.Start, f.End = dateFilter(v.Start, "start_date", v.Errors), dateFilter(v.End, "end_date", v.Errors)
	if len(v.Errors) == 0 {
		if !u.needStore(w, r, s) {
			return
		}
		rows, total, err := u.deps.Store.SearchConfigAudit(r.Context(), f)
		if err != nil {
			u.failed(w, r, s, "searching the config audit log", err)
			return
		}
		for _, row := range rows {
			v.Rows = append(v.Rows, auditRow{ConfigAuditRow: row, Summary: summarize(row)})
		}
		v.Pager = newPager(q, page, total, configAuditPageSize)
	}
	u.show(w, r, s, filterStatus(v.Errors), "audit", "audit", "Configuration Audit Log", v)
}

// eventsView is the event audit page's data.
type eventsView struct {
	Hostname, RuleID, Start, End string
	Rows                         []store.EventAuditRow
	Pager                        pager
	Errors                       map[string]string
}

func (u *UI) events(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	v := eventsView{Hostname: strings.TrimSpace(q.Get("hostname")), RuleID: strings.TrimSpace(q.Get("rule_id")),
		Start: q.Get("start_date"), End: q.Get("end_date"), Errors: map[string]string{}}
	page := pageNumber(q)
	f := store.EventAuditFilter{Hostname: v.Hostname, Limit: eventAuditPageSize, Offset: (page - 1) * eventAuditPageSize}
	f.RuleID = idFilter(v.RuleID, "rule_id", "Enter a rule number.", v.Errors)
	f.Start, f.End = dateFilter(v.Start, "start_date", v.Errors), dateFilter(v.End, "end_date", v.Errors)
	if len(v.Errors) == 0 {
		if !u.needStore(w, r, s) {
			return
		}
		rows, total, estimated, err := u.deps.Store.SearchEventAudit(r.Context(), f)
		if err != nil {
			u.failed(w, r, s, "searching the event audit log", err)
			return
		}
		v.Rows = rows
		v.Pager = newPager(q, page, total, eventAuditPageSize)
		v.Pager.Estimated = estimated
	}
	u.show(w, r, s, filterStatus(v.Errors), "events", "events", "Event audit", v)
}

// idFilter reads a record or rule number filter; nil when empty, and nil
// with errs[field] set to msg when it is not a non-negative number.
func idFilter(value, field, msg string, errs map[string]string) *int64 {
	if value == "" {
		return nil
	}
	id, _, ok := web.ParseID(value)
	if !ok {
		errs[field] = msg
		return nil
	}
	return &id
}

// dateFilter reads a start_date or end_date filter; zero when empty, and
// zero with errs[field] set when it cannot be parsed.
func dateFilter(value, field string, errs map[string]string) time.Time {
	if value == "" {
		return time.Time{}
	}
	t, err := parseWhen(value)
	if err != nil {
		errs[field] = err.Error()
	}
	return t
}

// filterStatus is 400 when a search filter was refused, else 200.
func filterStatus(errs map[string]string) int {
	if len(errs) > 0 {
		return http.StatusBadRequest
	}
	return http.StatusOK
}
