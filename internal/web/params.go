package web

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxID is the largest rule id or audit record id: the columns are
// PostgreSQL INTEGER.
const MaxID = math.MaxInt32

// ParseID reads a rule or record id: decimal digits (no sign) of a number.
// isNumber is false for anything else; inRange is false too for a number
// above MaxID, which names no row.
func ParseID(s string) (id int64, isNumber, inRange bool) {
	if s == "" || len(s) > 64 {
		return 0, false, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, true, false
	}
	return n, true, true
}

// maxPageLimit is the largest page size any endpoint returns.
const maxPageLimit = 200

// pageParams reads page and limit leniently: unparsable values take the
// defaults, page < 1 becomes 1, limit is clamped to 1..200.
func (s *Server) pageParams(r *http.Request) (page, limit int) {
	q := r.URL.Query()
	page, limit = 1, s.cfg.AuditLogPageSize
	if v, err := strconv.Atoi(strings.TrimSpace(q.Get("page"))); err == nil {
		page = max(v, 1)
	}
	if v, err := strconv.Atoi(strings.TrimSpace(q.Get("limit"))); err == nil {
		limit = min(max(v, 1), maxPageLimit)
	}
	return page, limit
}

// pagination is the "pagination" block of paginated answers.
type pagination struct {
	Page           int   `json:"page"`
	Limit          int   `json:"limit"`
	Total          int64 `json:"total"`
	Pages          int64 `json:"pages"`
	TotalEstimated bool  `json:"total_estimated,omitempty"`
}

func newPagination(page, limit int, total int64) pagination {
	pages := int64(0)
	if total > 0 {
		pages = (total + int64(limit) - 1) / int64(limit)
	}
	return pagination{Page: page, Limit: limit, Total: total, Pages: pages}
}

// offset of a page, saturating instead of overflowing.
func offset(page, limit int) int {
	if page > (1<<31)/limit {
		return 1 << 31
	}
	return (page - 1) * limit
}

// dateLayouts are the ISO-8601 forms accepted for start_date and end_date;
// times without a zone are UTC.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// dateParam parses the named query parameter; zero when absent. A value
// that is not an ISO date or date-time is a 400 "invalid <name>".
func dateParam(r *http.Request, name string) (time.Time, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badf("invalid %s", name)
}
