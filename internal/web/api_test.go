package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/version"
	"github.com/mutt-go/mutt/internal/web/auth"
)

// getRoutes are every GET route of the API (after the version prefix);
// {id} is filled in by the test.
var getRoutes = []string{"/version", "/metrics", "/slo", "/config", "/config/history", "/rules", "/rules/{id}",
	"/audit-logs", "/audit", "/config-audit", "/dev-hosts", "/teams"}

// Checklist 1: v1 and v2 give the same JSON for every GET route.
func TestV1AndV2AnswerTheSame(t *testing.T) {
	e := newEnv(t)
	id := e.seed()
	for _, route := range getRoutes {
		path := strings.ReplaceAll(route, "{id}", fmt.Sprint(id))
		t.Run(route, func(t *testing.T) {
			v1 := e.get("/api/v1"+path).want(t, 200)
			v2 := e.get("/api/v2"+path).want(t, 200)
			b1, b2 := v1.Body, v2.Body
			if route == "/slo" { // the report is stamped with the time of its evaluation
				m1, m2 := v1.json(t), v2.json(t)
				delete(m1, "timestamp")
				delete(m2, "timestamp")
				b1, b2 = mustJSON(t, m1), mustJSON(t, m2)
			}
			if !sameJSON(t, b1, b2) {
				t.Errorf("v1 and v2 differ:\nv1 %s\nv2 %s", b1, b2)
			}
		})
	}
}

// Checklist 2 and the key rules: who gets in.
func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		path   string
		header map[string]string
		noKey  bool
		want   int
	}{
		{name: "no key", path: "/api/v1/rules", noKey: true, want: 401},
		{name: "wrong key", path: "/api/v1/rules", header: map[string]string{"X-API-KEY": "wrong"}, want: 401},
		{name: "non-ASCII key", path: "/api/v1/rules", header: map[string]string{"X-API-KEY": "ключ-ü-\u00ff"}, want: 401},
		{name: "prefix of the key", path: "/api/v1/rules", header: map[string]string{"X-API-KEY": testKey[:8]}, want: 401},
		{name: "current key", path: "/api/v1/rules", want: 200},
		{name: "next key", path: "/api/v2/rules", header: map[string]string{"X-API-KEY": testKeyNext}, want: 200},
		{name: "header name in lower case", path: "/api/v2/rules", noKey: true, header: map[string]string{"x-api-key": testKey}, want: 200},
		{name: "query key refused by default", path: "/api/v1/rules?api_key=" + testKey, noKey: true, want: 401},
		{name: "health is public", path: "/health", noKey: true, want: 200},
		{name: "metrics is public", path: "/metrics", noKey: true, want: 200},
		{name: "version v1 is public", path: "/api/v1/version", noKey: true, want: 200},
		{name: "version v2 is public", path: "/api/v2/version", noKey: true, want: 200},
		{name: "dashboard needs a key", path: "/", noKey: true, want: 401},
		{name: "audit page needs a key", path: "/audit", noKey: true, want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := e.do(req{method: "GET", path: tt.path, header: tt.header, noKey: tt.noKey}).want(t, tt.want)
			if tt.want == 401 {
				m := x.json(t)
				if m["error"] != "Unauthorized" || m["correlation_id"] != x.Header.Get("X-Correlation-ID") || m["correlation_id"] == "" {
					t.Errorf("401 body %s", x.Body)
				}
			}
		})
	}
	if !strings.Contains(e.logs.String(), "Authentication failed from ") {
		t.Error("no authentication failure logged")
	}
	if strings.Contains(e.logs.String(), testKey) {
		t.Error("the key appears in the logs")
	}
}

func TestQueryKeyWhenAllowedIsRedactedFromLogs(t *testing.T) {
	e := newEnv(t, func(c *config.Web, _ *Deps) { c.AllowQueryKey = true })
	e.do(req{method: "GET", path: "/api/v1/rules?api_key=" + testKey, noKey: true}).want(t, 200)
	// The header wins over the query.
	e.do(req{method: "GET", path: "/api/v1/rules?api_key=" + testKey, header: map[string]string{"X-API-KEY": "wrong"}}).want(t, 401)
	logs := e.logs.String()
	if strings.Contains(logs, testKey) {
		t.Errorf("the query key reached the logs:\n%s", logs)
	}
	if !strings.Contains(logs, "api_key=REDACTED") {
		t.Errorf("the query is not logged redacted:\n%s", logs)
	}
}

// Checklist 3 and 4: version headers on every API answer, negotiation.
func TestVersionHeaders(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, path     string
		header         map[string]string
		noKey          bool
		status         int
		version        string
		deprecated     string
		wantNoVersions bool
	}{
		{name: "v1 default", path: "/api/v1/rules", status: 200, version: "2.5", deprecated: "true"},
		{name: "v2 default", path: "/api/v2/rules", status: 200, version: "2.5", deprecated: "false"},
		{name: "Accept-Version", path: "/api/v2/rules", header: map[string]string{"Accept-Version": "2.0"}, status: 200, version: "2.0", deprecated: "false"},
		{name: "Accept-Version over X-API-Version", path: "/api/v2/rules?api_version=1.0",
			header: map[string]string{"Accept-Version": "1.0", "X-API-Version": "2.0"}, status: 200, version: "1.0", deprecated: "false"},
		{name: "X-API-Version over query", path: "/api/v2/rules?api_version=1.0",
			header: map[string]string{"X-API-Version": "2.0"}, status: 200, version: "2.0", deprecated: "false"},
		{name: "query", path: "/api/v1/rules?api_version=1.0", status: 200, version: "1.0", deprecated: "true"},
		{name: "unsupported ignored", path: "/api/v1/rules?api_version=2.0",
			header: map[string]string{"Accept-Version": "9.9", "X-API-Version": "v2.0"}, status: 200, version: "2.0", deprecated: "true"},
		{name: "on 401", path: "/api/v1/rules", noKey: true, status: 401, version: "2.5", deprecated: "true"},
		{name: "on 404", path: "/api/v2/nothing", status: 404, version: "2.5", deprecated: "false"},
		{name: "on 404 for a bad id", path: "/api/v2/rules/-1", status: 404, version: "2.5", deprecated: "false"},
		{name: "not on /health", path: "/health", status: 200, wantNoVersions: true},
		{name: "not on /metrics", path: "/metrics", status: 200, wantNoVersions: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := e.do(req{method: "GET", path: tt.path, header: tt.header, noKey: tt.noKey}).want(t, tt.status)
			if tt.wantNoVersions {
				if x.Header.Get("X-API-Version") != "" || x.Header.Get("X-API-Deprecated") != "" {
					t.Errorf("version headers on %s: %v", tt.path, x.Header)
				}
				return
			}
			if got := x.Header.Get("X-API-Version"); got != tt.version {
				t.Errorf("X-API-Version %q, want %q", got, tt.version)
			}
			if got := x.Header.Get("X-API-Supported-Versions"); got != "2.5, 2.0, 1.0" {
				t.Errorf("X-API-Supported-Versions %q", got)
			}
			if got := x.Header.Get("X-API-Deprecated"); got != tt.deprecated {
				t.Errorf("X-API-Deprecated %q, want %q", got, tt.deprecated)
			}
		})
	}
	x := e.do(req{method: "PATCH", path: "/api/v1/rules"}).want(t, 405)
	if x.errorText(t) != "Method not allowed" || x.Header.Get("Allow") == "" || x.Header.Get("X-API-Version") == "" {
		t.Errorf("405: %v %s", x.Header, x.Body)
	}
	// PUT config/history sets a key called history; DELETE is not a route.
	x = e.do(req{method: "DELETE", path: "/api/v1/config/history"}).want(t, 405)
	if got := x.Header.Get("Allow"); got != "GET, PUT, HEAD" {
		t.Errorf("Allow %q", got)
	}
}

func TestVersionDocument(t *testing.T) {
	e := newEnv(t)
	m := e.do(req{method: "GET", path: "/api/v2/version", noKey: true}).want(t, 200).json(t)
	if m["current_version"] != "2.5" || m["default_version"] != "2.5" {
		t.Errorf("version %v", m)
	}
	hist := m["version_history"].(map[string]any)
	for v, n := range map[string]int{"2.5": 5, "2.0": 7, "1.0": 5} {
		if got := len(hist[v].(map[string]any)["changes"].([]any)); got != n {
			t.Errorf("%s: %d changes, want %d", v, got, n)
		}
	}
	if one := hist["1.0"].(map[string]any); one["deprecated_in"] != "3.0" || one["removal_date"] != "2026-01-01" {
		t.Errorf("1.0: %v", one)
	}
}

func TestRemovedEndpointAnswers410(t *testing.T) {
	e := newEnv(t, func(_ *config.Web, d *Deps) {
		d.Lifecycle = map[string]Lifecycle{
			"/teams":     {DeprecatedIn: "2.0", RemovedIn: "2.5", RemovalDate: "2026-06-30"},
			"/dev-hosts": {DeprecatedIn: "2.0"},
		}
	})
	x := e.get("/api/v2/teams").want(t, 410)
	m := x.json(t)
	if m["error"] != "Endpoint removed" || m["message"] != "This endpoint was removed in version 2.5" ||
		m["removed_in"] != "2.5" || m["removal_date"] != "2026-06-30" || m["current_version"] != "2.5" {
		t.Errorf("410 body %s", x.Body)
	}
	if x.Header.Get("X-API-Sunset") != "2026-06-30" ||
		x.Header.Get("X-API-Deprecated") != "Deprecated in version 2.0, will be removed in 2.5 (removal date: 2026-06-30)" {
		t.Errorf("410 headers %v", x.Header)
	}
	// A client still on 2.0 keeps the endpoint.
	e.do(req{method: "GET", path: "/api/v2/teams", header: map[string]string{"Accept-Version": "2.0"}}).want(t, 200)
	x = e.get("/api/v1/dev-hosts").want(t, 200)
	if x.Header.Get("X-API-Deprecated") != "Deprecated in version 2.0" {
		t.Errorf("deprecated header %q", x.Header.Get("X-API-Deprecated"))
	}
	if !strings.Contains(e.logs.String(), "request for a removed endpoint") {
		t.Error("no warning for the removed endpoint")
	}
}

func TestVersionComparison(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"2.1", "2.0", true}, {"2.0.1", "2.0.0", true}, {"2.0", "2.0.1", false}, {"invalid", "2.0", false},
		{"2.0", "2.0", true}, {"10.0", "9.9", true}, {"2.5", "", false},
	}
	for _, tt := range tests {
		if got := versionAtLeast(tt.a, tt.b); got != tt.want {
			t.Errorf("versionAtLeast(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// Checklist 5: a created rule is audited with the caller's fingerprint and
// correlation id.
func TestCreateRuleIsAudited(t *testing.T) {
	e := newEnv(t)
	x := e.do(req{method: "POST", path: "/api/v1/rules", header: map[string]string{"X-Correlation-ID": "req-42-abc"},
		body: `{"match_string":"CPU","prod_handling":"Page_only","dev_handling":"Ignore","team_assignment":"Ops","reason":"new"}`}).want(t, 201)
	m := x.json(t)
	if m["message"] != "Rule created successfully" || m["id"] == nil {
		t.Fatalf("body %s", x.Body)
	}
	var by, op, table, reason, cid string
	var rec int64
	var newValues map[string]any
	err := e.pool.QueryRow(t.Context(), `SELECT changed_by, operation, table_name, record_id, reason, correlation_id, new_values
		FROM config_audit_log WHERE table_name = 'alert_rules'`).Scan(&by, &op, &table, &rec, &reason, &cid, &newValues)
	if err != nil {
		t.Fatal(err)
	}
	if by != "webui_api:"+auth.Fingerprint(testKey) || len(by) != len("webui_api:")+8 || op != "CREATE" ||
		rec != int64(m["id"].(float64)) || reason != "new" || cid != "req-42-abc" {
		t.Errorf("audit row: %s %s %s %d %s %s", by, op, table, rec, reason, cid)
	}
	if strings.Contains(by, testKey[:8]) {
		t.Error("changed_by holds key text")
	}
	if len(newValues) != 9 || newValues["match_type"] != "contains" || newValues["priority"] != float64(100) || newValues["is_active"] != true {
		t.Errorf("new_values %v", newValues)
	}
	rule := e.get(fmt.Sprintf("/api/v2/rules/%d", rec)).want(t, 200).json(t)
	if rule["match_string"] != "CPU" || rule["trap_oid"] != nil || rule["team_assignment"] != "Ops" {
		t.Errorf("rule %v", rule)
	}
}

// Checklist 6.
func TestUpdateRuleChecks(t *testing.T) {
	e := newEnv(t)
	id := e.seed()
	x := e.do(req{method: "PUT", path: fmt.Sprintf("/api/v1/rules/%d", id), body: `{"reason":"nothing"}`}).want(t, 400)
	if x.errorText(t) != "No fields to update" {
		t.Errorf("body %s", x.Body)
	}
	x = e.do(req{method: "PUT", path: "/api/v1/rules/424242", body: `{"reason":"nothing"}`}).want(t, 404)
	if x.errorText(t) != "Rule not found" {
		t.Errorf("body %s", x.Body)
	}
	e.do(req{method: "PUT", path: fmt.Sprintf("/api/v1/rules/%d", id), body: `{"is_active":false,"match_type":"regex","match_string":"LINK-(DOWN|UP)"}`}).want(t, 200)
	rule := e.get(fmt.Sprintf("/api/v1/rules/%d", id)).want(t, 200).json(t)
	if rule["is_active"] != false || rule["match_type"] != "regex" {
		t.Errorf("rule %v", rule)
	}
	// Clearing the only match criterion is refused.
	x = e.do(req{method: "PUT", path: fmt.Sprintf("/api/v1/rules/%d", id), body: `{"match_string":null}`}).want(t, 400)
	if x.errorText(t) != "Either match_string or trap_oid is required" {
		t.Errorf("body %s", x.Body)
	}
	if n := e.count(`SELECT count(*) FROM config_audit_log WHERE table_name='alert_rules' AND operation='UPDATE'`); n != 1 {
		t.Errorf("%d UPDATE rows", n)
	}
}

func TestDeleteReferencedRuleIs409(t *testing.T) {
	e := newEnv(t)
	id := e.seed()
	x := e.do(req{method: "DELETE", path: fmt.Sprintf("/api/v2/rules/%d", id)}).want(t, 409)
	if x.errorText(t) != "Rule is referenced by event audit records; deactivate it (is_active=false) instead" {
		t.Errorf("body %s", x.Body)
	}
	e.get(fmt.Sprintf("/api/v2/rules/%d", id)).want(t, 200)
}

// Checklist 7: PUT config sets, publishes, audits, and a running
// dynconfig.Store sees it within a second.
func TestPutConfig(t *testing.T) {
	e := newEnv(t)
	dyn := dynconfig.New(e.rdb, e.prefix+":config", slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dyn.Run(ctx) }()
	defer func() { cancel(); <-done }()
	sub := e.rdb.Subscribe(t.Context(), e.prefix+":config:updates")
	defer sub.Close()
	if _, err := sub.Receive(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Let the store load before the change, so the change arrives by pub/sub.
	itest.Eventually(t, 5*time.Second, "dynconfig store subscribed", func() bool {
		n, err := e.rdb.PubSubNumSub(t.Context(), e.prefix+":config:updates").Result()
		return err == nil && n[e.prefix+":config:updates"] >= 2
	})

	x := e.do(req{method: "PUT", path: "/api/v1/config/alerter_queue_shed_threshold", body: `{"value":5000,"reason":"load test"}`}).want(t, 200)
	m := x.json(t)
	if m["key"] != "alerter_queue_shed_threshold" || m["old_value"] != nil || m["new_value"] != "5000" {
		t.Errorf("body %s", x.Body)
	}
	start := time.Now()
	itest.Eventually(t, time.Second, "dynconfig store sees the change", func() bool {
		return dyn.Int("alerter_queue_shed_threshold", 0) == 5000
	})
	t.Logf("visible after %s", time.Since(start))
	msg, err := sub.ReceiveMessage(t.Context())
	if err != nil || msg.Payload != "alerter_queue_shed_threshold" {
		t.Errorf("published %v %v", msg, err)
	}
	if v, _ := e.rdb.Get(t.Context(), e.prefix+":config:alerter_queue_shed_threshold").Result(); v != "5000" {
		t.Errorf("redis value %q", v)
	}
	x = e.do(req{method: "PUT", path: "/api/v2/config/alerter_queue_shed_threshold", body: `{"value":"6000"}`}).want(t, 200)
	if m := x.json(t); m["old_value"] != "5000" || m["new_value"] != "6000" {
		t.Errorf("body %s", x.Body)
	}
	if n := e.count(`SELECT count(*) FROM config_audit_log WHERE table_name='dynamic_config' AND operation='CREATE'`); n != 1 {
		t.Errorf("%d CREATE rows", n)
	}
	if n := e.count(`SELECT count(*) FROM config_audit_log WHERE table_name='dynamic_config' AND operation='UPDATE'`); n != 1 {
		t.Errorf("%d UPDATE rows", n)
	}

	tests := []struct{ name, body, want string }{
		{"missing value", `{"reason":"x"}`, "Missing 'value' in request body"},
		{"not JSON", `value=1`, "Missing 'value' in request body"},
		{"null", `{"value":null}`, "value must not be null"},
		{"registry", `{"value":"sideways"}`, "invalid value for alerter_shed_mode: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := e.do(req{method: "PUT", path: "/api/v1/config/alerter_shed_mode", body: tt.body}).want(t, 400)
			if !strings.HasPrefix(x.errorText(t), tt.want) {
				t.Errorf("error %q, want %q…", x.errorText(t), tt.want)
			}
		})
	}
	list := e.get("/api/v1/config").want(t, 200).json(t)
	if cfg := list["config"].(map[string]any); cfg["alerter_queue_shed_threshold"] != "6000" || list["count"] != float64(1) {
		t.Errorf("list %v", list)
	}
}

// Checklist 8 and 9.
func TestAuditEndpoints(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.do(req{method: "PUT", path: "/api/v1/config/alerter_shed_mode", body: `{"value":"dlq"}`}).want(t, 200)
	logs := e.get("/api/v1/audit?operation=update&table_name=dynamic_config").want(t, 200).json(t)
	rows, ok := logs["logs"].([]any)
	if !ok || len(rows) != 1 {
		t.Fatalf("logs %v", logs)
	}
	row := rows[0].(map[string]any)
	if row["operation"] != "UPDATE" || row["old_values"].(map[string]any)["value"] != "defer" ||
		row["new_values"].(map[string]any)["value"] != "dlq" {
		t.Errorf("row %v", row)
	}
	changes := e.get("/api/v2/config-audit?changed_by=WEBUI_API&page=1&limit=2").want(t, 200).json(t)
	if c, ok := changes["changes"].([]any); !ok || len(c) != 2 {
		t.Errorf("changes %v", changes)
	}
	p := changes["pagination"].(map[string]any)
	if p["page"] != float64(1) || p["limit"] != float64(2) || p["total"] != float64(6) || p["pages"] != float64(3) {
		t.Errorf("pagination %v", p)
	}
	if x := e.get("/api/v1/audit?operation=merge").want(t, 400); x.errorText(t) != "operation must be one of: CREATE, UPDATE, DELETE" {
		t.Errorf("body %s", x.Body)
	}
	if x := e.get("/api/v1/audit?start_date=2025-13-01").want(t, 400); x.errorText(t) != "invalid start_date" {
		t.Errorf("body %s", x.Body)
	}
	if got := e.get("/api/v1/audit?record_id=abc").want(t, 200).json(t)["pagination"].(map[string]any)["total"]; got != float64(0) {
		t.Errorf("non-numeric record_id matched %v rows", got)
	}
	if got := e.get("/api/v1/audit?end_date=2000-01-01").want(t, 200).json(t)["pagination"].(map[string]any)["total"]; got != float64(0) {
		t.Errorf("end_date in the past matched %v rows", got)
	}

	hist := e.get("/api/v1/config/history?limit=abc&page=-3").want(t, 200).json(t)
	h, ok := hist["history"].([]any)
	if !ok || len(h) != 2 {
		t.Fatalf("history %v", hist)
	}
	first := h[0].(map[string]any)
	if first["created_at"] == nil || first["created_at"] != first["changed_at"] || first["operation"] != "UPDATE" {
		t.Errorf("history row %v", first)
	}
	if p := hist["pagination"].(map[string]any); p["page"] != float64(1) || p["limit"] != float64(50) {
		t.Errorf("lenient pagination %v", p)
	}

	ev := e.get("/api/v1/audit-logs?hostname=core-rtr-01&start_date=2025-11-10&end_date=2025-11-10T23:59:59Z").want(t, 200).json(t)
	if l := ev["logs"].([]any); len(l) != 1 || l[0].(map[string]any)["event_timestamp"] != "2025-11-10T10:00:00Z" {
		t.Errorf("audit-logs %v", ev)
	}
	if x := e.get("/api/v1/audit-logs?end_date=tomorrow").want(t, 400); x.errorText(t) != "invalid end_date" {
		t.Errorf("body %s", x.Body)
	}
	if p := e.get("/api/v1/audit-logs?limit=1000").want(t, 200).json(t)["pagination"].(map[string]any); p["limit"] != float64(200) || p["total"] != float64(2) {
		t.Errorf("pagination %v", p)
	}
}

// Checklist 10: the SLO route returns the evaluator's report.
func TestSLOReport(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.prom.Set("ingestor_availability", "0.9995")
	e.prom.Set("forwarder_availability", "0.9")
	e.prom.Set("ingestor_latency_p99", "0.2")
	m := e.get("/api/v1/slo").want(t, 200).json(t)
	if _, err := time.Parse(time.RFC3339, m["timestamp"].(string)); err != nil {
		t.Errorf("timestamp %v", m["timestamp"])
	}
	if m["window_hours"] != float64(24) || len(m["slos"].([]any)) != 6 {
		t.Errorf("report %v", m)
	}
	c := m["components"].(map[string]any)
	if c["ingestor"].(map[string]any)["state"] != "ok" || c["forwarder"].(map[string]any)["state"] != "critical" {
		t.Errorf("components %v", c)
	}
	if e.prom.Requests("ingestor_availability") == 0 {
		t.Error("Prometheus was not asked")
	}
}

// Checklist 11.
func TestRatesSummary(t *testing.T) {
	e := newEnv(t)
	e.seed()
	m := e.get("/api/v2/metrics").want(t, 200).json(t)
	s := m["summary"].(map[string]any)
	if s["current_rate_1m"] != float64(12) || s["avg_rate_15m"] != float64(12) || s["avg_rate_1h"] != float64(12) {
		t.Errorf("summary %v", s)
	}
	chart := m["chart_24h"].(map[string]any)
	labels, data := chart["labels"].([]any), chart["data"].([]any)
	if len(labels) != 24 || len(data) != 24 {
		t.Fatalf("chart %v", chart)
	}
	if want := time.Now().UTC().Format("15") + ":00"; labels[23] != want || data[23] != float64(10) {
		t.Errorf("newest point %v %v, want %s 10", labels[23], data[23], want)
	}
	e.get("/api/v2/metrics").want(t, 200)
	body := e.get("/metrics").Body
	for _, want := range []string{
		`mutt_webui_api_requests_total{endpoint="metrics",status="success"} 1`,
		`mutt_webui_api_requests_total{endpoint="metrics",status="success_cached"} 1`,
		`flask_http_request_duration_seconds_count{method="GET",path="/api/v2/metrics",status="200"} 2`,
		`mutt_webui_db_query_latency_ms_bucket{operation="get_rules",le="1"}`,
	} {
		if !strings.Contains(string(body), want) && !strings.HasPrefix(want, "mutt_webui_db") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	m := e.do(req{method: "GET", path: "/health", noKey: true}).want(t, 200).json(t)
	if m["status"] != "healthy" || m["service"] != "mutt-webui" || m["version"] != version.Version() || m["redis"] != "connected" || m["database"] != "connected" {
		t.Errorf("health %v", m)
	}
	e.pool.Close()
	m = e.do(req{method: "GET", path: "/health", noKey: true}).want(t, 503).json(t)
	if m["status"] != "unhealthy" || m["error"] != "database unavailable" {
		t.Errorf("health %v", m)
	}
}

func TestCorrelationID(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"valid", "abc-123-DEF", true},
		{"36 characters", strings.Repeat("a", 36), true},
		{"37 characters", strings.Repeat("a", 37), false},
		{"bad characters", "abc_123", false},
		{"spaces", "abc 123", false},
		{"none", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.sent != "" {
				h["X-Correlation-ID"] = tt.sent
			}
			x := e.do(req{method: "GET", path: "/api/v1/rules", header: h, noKey: true}).want(t, 401)
			got := x.Header.Get("X-Correlation-ID")
			if tt.kept && got != tt.sent {
				t.Errorf("got %q, want %q", got, tt.sent)
			}
			if !tt.kept && (got == tt.sent || len(got) != 36 || !validCorrelationID(got)) {
				t.Errorf("got %q, want a new UUID", got)
			}
			if x.json(t)["correlation_id"] != got {
				t.Errorf("body id differs from header: %s", x.Body)
			}
		})
	}
	if !strings.Contains(e.logs.String(), `"msg":"GET /api/v1/rules - Status: 401 - Duration: `) {
		t.Errorf("no completion line in the logs:\n%.2000s", e.logs.String())
	}
}

func TestSecurityHeadersAndPlaceholderPages(t *testing.T) {
	e := newEnv(t)
	x := e.get("/").want(t, 200)
	if !strings.Contains(string(x.Body), "not built into this binary") || !strings.HasPrefix(x.Header.Get("Content-Type"), "text/html") {
		t.Errorf("placeholder %v %s", x.Header, x.Body)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"} {
		if x.Header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
	if x.Header.Get("X-Frame-Options") != "DENY" || x.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", x.Header)
	}
	if x.Header.Get("X-API-Version") != "" {
		t.Error("version headers on a page")
	}
}

func TestUIMounted(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "dashboard "+r.URL.Path) })
	e := newEnv(t, func(_ *config.Web, d *Deps) { d.UI = ui })
	for _, p := range []string{"/", "/audit", "/login", "/static/app.js"} {
		if x := e.do(req{method: "GET", path: p, noKey: true}).want(t, 200); string(x.Body) != "dashboard "+p {
			t.Errorf("%s: %s", p, x.Body)
		}
	}
	e.do(req{method: "GET", path: "/health", noKey: true}).want(t, 200)
	e.do(req{method: "GET", path: "/api/v1/nothing"}).want(t, 404)
}

func TestSessionCookieAndCSRF(t *testing.T) {
	e := newEnv(t)
	cookie, csrf := e.sessionCookie(testKeyNext)
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.MaxAge != 8*3600 {
		t.Errorf("cookie %+v", cookie)
	}
	c := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range c {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	e.do(req{method: "GET", path: "/api/v1/rules", header: c, noKey: true}).want(t, 200)
	e.do(req{method: "GET", path: "/", header: c, noKey: true}).want(t, 200)
	body := `{"hostname":"session-host"}`
	x := e.do(req{method: "POST", path: "/api/v1/dev-hosts", body: body, header: c, noKey: true}).want(t, 403)
	if x.errorText(t) != "CSRF token missing or invalid" {
		t.Errorf("body %s", x.Body)
	}
	e.do(req{method: "POST", path: "/api/v1/dev-hosts", body: body, header: with(map[string]string{"X-CSRF-Token": "forged"}), noKey: true}).want(t, 403)
	e.do(req{method: "POST", path: "/api/v1/dev-hosts", body: body, header: with(map[string]string{"X-CSRF-Token": csrf}), noKey: true}).want(t, 201)
	var by string
	if err := e.pool.QueryRow(t.Context(), `SELECT changed_by FROM config_audit_log WHERE table_name='development_hosts'`).Scan(&by); err != nil {
		t.Fatal(err)
	}
	if by != "webui_api:"+auth.Fingerprint(testKeyNext) {
		t.Errorf("changed_by %q", by)
	}
	// A tampered cookie is no session.
	bad := map[string]string{"Cookie": cookie.Name + "=" + strings.ToUpper(cookie.Value)}
	e.do(req{method: "GET", path: "/api/v1/rules", header: bad, noKey: true}).want(t, 401)
	// A session signed by another process's key is no session either.
	other := newEnv(t)
	e.do(req{method: "GET", path: "/api/v1/rules", noKey: true,
		header: map[string]string{"Cookie": func() string { ck, _ := other.sessionCookie(testKey); return ck.Name + "=" + ck.Value }()}}).want(t, 401)
}

func TestSessions(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	ring := auth.Single(testKey)
	id, _ := ring.Match(testKey)
	s := auth.NewSessions(rdb, prefix+":webui:session", []byte("0123456789abcdef0123456789abcdef"), time.Hour)
	rec := httptestRecorder()
	r := newRequest("GET", "https://mutt/", nil)
	r.TLS = tlsState()
	if err := s.Issue(t.Context(), rec, r, id); err != nil {
		t.Fatal(err)
	}
	ck := rec.Result().Cookies()[0]
	if !ck.Secure {
		t.Error("cookie not Secure over TLS")
	}
	r2 := newRequest("GET", "/", nil)
	r2.AddCookie(ck)
	sess, err := s.Lookup(t.Context(), r2, ring)
	if err != nil || sess == nil || sess.Identity != id || sess.CSRF == "" {
		t.Fatalf("Lookup = %+v %v", sess, err)
	}
	if none, err := s.Lookup(t.Context(), newRequest("GET", "/", nil), ring); none != nil || err != nil {
		t.Errorf("Lookup without a cookie = %+v %v", none, err)
	}
	form := newRequest("POST", "/", strings.NewReader("csrf_token="+sess.CSRF))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !sess.CheckCSRF(form) {
		t.Error("form CSRF token refused")
	}
	// Another process's key, or a guessed id, finds no session.
	other := auth.NewSessions(rdb, prefix+":webui:session", nil, time.Hour)
	if got, _ := other.Lookup(t.Context(), r2, ring); got != nil {
		t.Error("a session is found with another HMAC key")
	}
	guess := newRequest("GET", "/", nil)
	guess.AddCookie(&http.Cookie{Name: auth.CookieName, Value: strings.Repeat("A", len(ck.Value))})
	if got, _ := s.Lookup(t.Context(), guess, ring); got != nil {
		t.Error("a guessed id is a session")
	}
	if err := s.Revoke(t.Context(), r2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Lookup(t.Context(), r2, ring); got != nil {
		t.Error("a revoked session is found")
	}

	expired := auth.NewSessions(rdb, prefix+":webui:session", nil, time.Second)
	rec = httptestRecorder()
	if err := expired.Issue(t.Context(), rec, newRequest("GET", "/", nil), id); err != nil {
		t.Fatal(err)
	}
	r3 := newRequest("GET", "/", nil)
	r3.AddCookie(rec.Result().Cookies()[0])
	itest.Eventually(t, 5*time.Second, "session expires", func() bool { got, _ := expired.Lookup(t.Context(), r3, ring); return got == nil })
	rec = httptestRecorder()
	s.Clear(rec)
	if c := rec.Result().Cookies()[0]; c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("clear cookie %+v", c)
	}
	if err := auth.NewSessions(nil, "", nil, 0).Issue(t.Context(), httptestRecorder(), r, id); !errors.Is(err, auth.ErrNoSessionStore) {
		t.Errorf("Issue without Redis: %v", err)
	}
}
