package web

import (
	"net/http"
	"strconv"
	"strings"
)

// API version constants (spec §5.1).
const (
	CurrentVersion = "2.5"
	DefaultVersion = "2.5"
	// supportedHeader is X-API-Supported-Versions.
	supportedHeader = "2.5, 2.0, 1.0"
)

// SupportedVersions lists the API versions served, newest first.
func SupportedVersions() []string { return []string{"2.5", "2.0", "1.0"} }

// Lifecycle is the version metadata of one endpoint; empty fields are unset.
type Lifecycle struct {
	Since        string
	DeprecatedIn string
	RemovedIn    string
	RemovalDate  string // YYYY-MM-DD
}

// defaultLifecycle is the metadata of the endpoints that declare some, keyed
// by the path after the version prefix.
func defaultLifecycle() map[string]Lifecycle {
	return map[string]Lifecycle{"/audit": {Since: "2.0"}}
}

// negotiate picks the version a request asks for: Accept-Version, then
// X-API-Version, then ?api_version; unsupported values are skipped.
func negotiate(r *http.Request) string {
	for _, c := range []string{r.Header.Get("Accept-Version"), r.Header.Get("X-API-Version"), r.URL.Query().Get("api_version")} {
		c = strings.TrimSpace(c)
		for _, v := range SupportedVersions() {
			if c == v {
				return v
			}
		}
	}
	return DefaultVersion
}

// versionAtLeast compares dotted integer versions, the shorter padded with
// zeros; any part that is not an integer makes the answer false.
func versionAtLeast(v, min string) bool {
	a, okA := versionParts(v)
	b, okB := versionParts(min)
	if !okA || !okB {
		return false
	}
	for len(a) < len(b) {
		a = append(a, 0)
	}
	for len(b) < len(a) {
		b = append(b, 0)
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

func versionParts(v string) ([]int, bool) {
	fields := strings.Split(v, ".")
	out := make([]int, len(fields))
	for i, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// setVersionHeaders sets the headers every /api/ response carries and
// returns the negotiated version.
func setVersionHeaders(w http.ResponseWriter, r *http.Request) string {
	v := negotiate(r)
	h := w.Header()
	h.Set("X-API-Version", v)
	h.Set("X-API-Supported-Versions", supportedHeader)
	h.Set("X-API-Deprecated", strconv.FormatBool(strings.HasPrefix(r.URL.Path, "/api/v1/")))
	return v
}

// deprecationText is the descriptive X-API-Deprecated value of an endpoint
// with deprecation metadata.
func deprecationText(l Lifecycle) string {
	s := "Deprecated in version " + l.DeprecatedIn
	if l.RemovedIn != "" {
		s += ", will be removed in " + l.RemovedIn
	}
	if l.RemovalDate != "" {
		s += " (removal date: " + l.RemovalDate + ")"
	}
	return s
}

// removedBody is the 410 answer of a removed endpoint.
type removedBody struct {
	Error          string  `json:"error"`
	Message        string  `json:"message"`
	RemovedIn      string  `json:"removed_in"`
	RemovalDate    *string `json:"removal_date"`
	CurrentVersion string  `json:"current_version"`
}

// applyLifecycle sets the endpoint's deprecation headers and answers 410
// when the negotiated version is at or past its removal; it reports whether
// the request may go on.
func (s *Server) applyLifecycle(w http.ResponseWriter, r *http.Request, key string) bool {
	l, ok := s.lifecycle[key]
	if !ok {
		return true
	}
	ri := info(r)
	if l.DeprecatedIn != "" {
		w.Header().Set("X-API-Deprecated", deprecationText(l))
	}
	if l.RemovalDate != "" {
		w.Header().Set("X-API-Sunset", l.RemovalDate)
	}
	if l.RemovedIn != "" && versionAtLeast(ri.version, l.RemovedIn) {
		s.logger.Warn("request for a removed endpoint", "path", r.URL.Path, "removed_in", l.RemovedIn,
			"api_version", ri.version, "correlation_id", ri.correlationID)
		body := removedBody{Error: "Endpoint removed", Message: "This endpoint was removed in version " + l.RemovedIn,
			RemovedIn: l.RemovedIn, CurrentVersion: CurrentVersion}
		if l.RemovalDate != "" {
			d := l.RemovalDate
			body.RemovalDate = &d
		}
		writeJSON(w, http.StatusGone, body)
		return false
	}
	if l.DeprecatedIn != "" && versionAtLeast(ri.version, l.DeprecatedIn) {
		s.logger.Warn("request for a deprecated endpoint", "path", r.URL.Path, "deprecated_in", l.DeprecatedIn,
			"api_version", ri.version, "correlation_id", ri.correlationID)
	}
	return true
}

// versionInfo is the body of GET /api/v*/version.
type versionInfo struct {
	CurrentVersion    string                  `json:"current_version"`
	DefaultVersion    string                  `json:"default_version"`
	SupportedVersions []string                `json:"supported_versions"`
	VersionHistory    map[string]versionEntry `json:"version_history"`
}

type versionEntry struct {
	Released     string   `json:"released"`
	Status       string   `json:"status"`
	Changes      []string `json:"changes"`
	DeprecatedIn string   `json:"deprecated_in,omitempty"`
	RemovalDate  string   `json:"removal_date,omitempty"`
}

func versionDocument() versionInfo {
	return versionInfo{
		CurrentVersion: CurrentVersion, DefaultVersion: DefaultVersion, SupportedVersions: SupportedVersions(),
		VersionHistory: map[string]versionEntry{
			"2.5": {Released: "2025-11-10", Status: "current", Changes: []string{
				"/api/v2 route aliases in the Web UI and the ingestor",
				"X-API-Version and X-API-Deprecated response headers",
				"Configuration change audit logging and endpoints",
				"Moog forwarder circuit breaker with metrics",
				"Consolidated Prometheus alert rules",
			}},
			"2.0": {Released: "2025-11-10", Status: "supported", Changes: []string{
				"Configuration audit logging",
				"Richer audit log filtering",
				"/api/v1/audit endpoint",
				"/audit viewer page",
				"Metric labels normalised to status={success|fail}",
				"SLO endpoint",
				"Alerter backpressure controls",
			}},
			"1.0": {Released: "2024-01-01", Status: "supported", Changes: []string{
				"First stable API",
				"Alert rule CRUD",
				"Event audit logs",
				"Metrics dashboard",
				"Dynamic configuration API",
			}, DeprecatedIn: "3.0", RemovalDate: "2026-01-01"},
		},
	}
}
