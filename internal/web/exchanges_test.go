package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/config"
)

// exchanges makes real requests against test servers and returns every
// exchange: each route of the API under both version prefixes with a
// success, the client errors each route can give, and server-side failures
// (503 for a missing dependency, 500 for a database that went away). The
// OpenAPI validation test replays these.
func exchanges(t *testing.T) []Exchange {
	t.Helper()
	var out []Exchange
	e := newEnv(t)
	e.record = &out
	ruleID := e.seed()
	out = out[:0] // the seed's requests are repeated below, on purpose

	for _, v := range []string{"/api/v1", "/api/v2"} {
		// Successes, in an order that leaves something to delete.
		e.do(req{method: "GET", path: v + "/version", noKey: true}).want(t, 200)
		e.get(v+"/metrics").want(t, 200)
		e.get(v+"/slo").want(t, 200)
		e.get(v+"/config").want(t, 200)
		e.do(req{method: "PUT", path: v + "/config/alerter_shed_mode", body: `{"value":"dlq","reason":"exchanges"}`}).want(t, 200)
		e.get(v+"/config/history?page=1&limit=10").want(t, 200)
		e.get(v+"/rules").want(t, 200)
		e.get(fmt.Sprintf("%s/rules/%d", v, ruleID)).want(t, 200)
		created := e.do(req{method: "POST", path: v + "/rules",
			body: `{"match_string":"x.*y","match_type":"regex","prod_handling":"Ignore","dev_handling":"Ignore","team_assignment":"T"}`}).want(t, 201)
		id := int64(created.json(t)["id"].(float64))
		e.do(req{method: "PUT", path: fmt.Sprintf("%s/rules/%d", v, id), body: `{"priority":7,"reason":"r"}`}).want(t, 200)
		e.do(req{method: "DELETE", path: fmt.Sprintf("%s/rules/%d", v, id), body: `{"reason":"r"}`}).want(t, 200)
		e.get(v+"/audit-logs?hostname=core-rtr-01&start_date=2025-11-01").want(t, 200)
		e.get(v+"/audit?operation=update&table_name=dynamic_config").want(t, 200)
		e.get(v+"/config-audit?changed_by=webui_api").want(t, 200)
		e.get(v+"/dev-hosts").want(t, 200)
		e.do(req{method: "POST", path: v + "/dev-hosts", body: `{"hostname":"x-` + v[5:] + `"}`}).want(t, 201)
		e.do(req{method: "DELETE", path: v + "/dev-hosts/x-" + v[5:]}).want(t, 200)
		e.get(v+"/teams").want(t, 200)
		e.do(req{method: "POST", path: v + "/teams", body: `{"hostname":"t-` + v[5:] + `","team_assignment":"A"}`}).want(t, 201)
		e.do(req{method: "PUT", path: v + "/teams/t-" + v[5:], body: `{"team_assignment":"B"}`}).want(t, 200)
		e.do(req{method: "DELETE", path: v + "/teams/t-" + v[5:]}).want(t, 200)

		// Client errors.
		e.do(req{method: "GET", path: v + "/rules", noKey: true}).want(t, 401)
		e.do(req{method: "PUT", path: v + "/config/alerter_shed_mode", body: `{"reason":"no value"}`}).want(t, 400)
		e.do(req{method: "PUT", path: v + "/config/alerter_shed_mode", body: `{"value":"sideways"}`}).want(t, 400)
		e.get(v+"/rules/999999").want(t, 404)
		e.get(v+"/rules/abc").want(t, 404)
		e.do(req{method: "POST", path: v + "/rules", body: `{"match_string":"x"}`}).want(t, 400)
		e.do(req{method: "PUT", path: fmt.Sprintf("%s/rules/%d", v, ruleID), body: `{"reason":"only"}`}).want(t, 400)
		e.do(req{method: "PUT", path: v + "/rules/999999", body: `{"priority":1}`}).want(t, 404)
		e.do(req{method: "DELETE", path: fmt.Sprintf("%s/rules/%d", v, ruleID)}).want(t, 409)
		e.do(req{method: "DELETE", path: v + "/rules/999999"}).want(t, 404)
		e.get(v+"/audit-logs?rule_id=x").want(t, 400)
		e.get(v+"/audit?operation=MERGE").want(t, 400)
		e.get(v+"/config-audit?start_date=yesterday").want(t, 400)
		e.do(req{method: "POST", path: v + "/dev-hosts", body: `{"hostname":"dev-sw-01"}`}).want(t, 409)
		e.do(req{method: "POST", path: v + "/dev-hosts", body: `{}`}).want(t, 400)
		e.do(req{method: "DELETE", path: v + "/dev-hosts/no-such-host"}).want(t, 404)
		e.do(req{method: "POST", path: v + "/teams", body: `{"hostname":"core-rtr-01","team_assignment":"X"}`}).want(t, 409)
		e.do(req{method: "POST", path: v + "/teams", body: `{"hostname":"h"}`}).want(t, 400)
		e.do(req{method: "PUT", path: v + "/teams/no-such-host", body: `{"team_assignment":"X"}`}).want(t, 404)
		e.do(req{method: "PUT", path: v + "/teams/core-rtr-01", body: `{}`}).want(t, 400)
		e.do(req{method: "DELETE", path: v + "/teams/no-such-host"}).want(t, 404)
		e.do(req{method: "POST", path: v + "/rules", body: `{"match_string":"` + strings.Repeat("a", 2<<20) + `"}`}).want(t, 413)
		e.do(req{method: "DELETE", path: v + "/rules"}).want(t, 405)
		e.get(v+"/no-such-endpoint").want(t, 404)
		// Input that cannot be stored as sent.
		e.get(v+"/rules/2147483648").want(t, 404)
		e.get(v+"/audit-logs?rule_id=2147483648").want(t, 400)
		e.get(v+"/audit?record_id=2147483648").want(t, 400)
		e.get(v+"/version?x=%00").want(t, 400)
		e.do(req{method: "DELETE", path: v + "/dev-hosts/a%00"}).want(t, 400)
		e.do(req{method: "PUT", path: v + "/teams/core-rtr-01", body: `{"team_assignment":"X","team_assignment":"Y"}`}).want(t, 400)
		e.do(req{method: "POST", path: v + "/dev-hosts", body: `{"hostname":"\ud800"}`}).want(t, 400)
		e.do(req{method: "PUT", path: v + "/config/alerter_shed_mode", body: `{"value":"dlq\u0000"}`}).want(t, 400)
	}
	// A client that guessed keys is refused 429 on every route.
	guessed := newEnv(t)
	guessed.record = &out
	for i := range 10 {
		guessed.do(req{method: "GET", path: "/api/v1/rules", header: map[string]string{"X-API-KEY": fmt.Sprint("guess-", i)}}).want(t, 401)
	}
	for _, v := range []string{"/api/v1", "/api/v2"} {
		guessed.get(v+"/rules").want(t, 429)
		guessed.do(req{method: "POST", path: v + "/dev-hosts", body: `{"hostname":"h"}`}).want(t, 429)
		guessed.do(req{method: "PUT", path: v + "/config/alerter_shed_mode", body: `{"value":"dlq"}`}).want(t, 429)
	}
	e.get("/health").want(t, 200)
	e.do(req{method: "GET", path: "/metrics", noKey: true}).want(t, 200)
	e.get("/").want(t, 200)
	e.get("/audit").want(t, 200)

	// Server-side failures: no dynamic config (503), then a database that
	// is gone (500 on every route that reads it, 503 from /health).
	bare := newEnv(t, func(_ *config.Web, d *Deps) { d.Config = nil; d.SLO = nil; d.Rates = nil })
	bare.record = &out
	for _, v := range []string{"/api/v1", "/api/v2"} {
		bare.get(v+"/config").want(t, 503)
		bare.do(req{method: "PUT", path: v + "/config/k", body: `{"value":1}`}).want(t, 503)
		bare.get(v+"/slo").want(t, 503)
		bare.get(v+"/metrics").want(t, 503)
	}
	bare.pool.Close()
	for _, v := range []string{"/api/v1", "/api/v2"} {
		bare.get(v+"/rules").want(t, 500)
		bare.get(v+"/audit-logs").want(t, 500)
		bare.get(v+"/audit").want(t, 500)
		bare.get(v+"/config/history").want(t, 500)
		bare.get(v+"/dev-hosts").want(t, 500)
		bare.get(v+"/teams").want(t, 500)
	}
	bare.get("/health").want(t, 503)
	return out
}

// TestExchangesCoverEveryRoute checks that exchanges exercises every API
// route under both prefixes with a 2xx and that it has 4xx and 5xx answers.
func TestExchangesCoverEveryRoute(t *testing.T) {
	xs := exchanges(t)
	e := newEnv(t)
	seen := map[string]map[int]bool{} // "METHOD pattern" -> status classes
	for _, x := range xs {
		r := httptest.NewRequest(x.Method, x.Path, nil)
		_, pattern := e.srv.api.Handler(r)
		if pattern == "" {
			pattern = x.Method + " " + strings.SplitN(x.Path, "?", 2)[0]
		}
		if seen[pattern] == nil {
			seen[pattern] = map[int]bool{}
		}
		seen[pattern][x.Status/100] = true
		if strings.HasPrefix(x.Path, "/api/") && x.Header.Get("X-API-Version") == "" {
			t.Errorf("%s %s (%d): no X-API-Version", x.Method, x.Path, x.Status)
		}
		if x.Header.Get("X-Correlation-ID") == "" {
			t.Errorf("%s %s: no X-Correlation-ID", x.Method, x.Path)
		}
	}
	for _, rt := range e.srv.apiRoutes() {
		for _, p := range APIPrefixes() {
			key := rt.method + " " + p + rt.path
			if !seen[key][2] {
				t.Errorf("%s: no successful exchange", key)
			}
		}
	}
	classes := map[int]bool{}
	for _, c := range seen {
		for k := range c {
			classes[k] = true
		}
	}
	for _, c := range []int{2, 4, 5} {
		if !classes[c] {
			t.Errorf("no %dxx exchange", c)
		}
	}
	for _, x := range xs {
		if x.Status >= 500 && strings.Contains(string(x.Body), "SQL") {
			t.Errorf("%s %s: database text in a 5xx body: %s", x.Method, x.Path, x.Body)
		}
		if x.Status == http.StatusInternalServerError && !strings.Contains(string(x.Body), "correlation_id") {
			t.Errorf("%s %s: 500 without correlation_id: %s", x.Method, x.Path, x.Body)
		}
	}
}
