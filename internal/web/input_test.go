package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/config"
)

const okRule = `"prod_handling":"P","dev_handling":"D","team_assignment":"T"`

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.seed()
	rulePath := fmt.Sprintf("/api/v1/rules/%d", id)
	tests := []refusal{
		{"not an object", "POST", "/api/v1/rules", `[1,2]`, 400, "Request body must be a JSON object"},
		{"not JSON", "POST", "/api/v1/rules", `match_string=x`, 400, "Request body must be a JSON object"},
		{"empty body", "POST", "/api/v1/rules", ``, 400, "Request body must be a JSON object"},
		{"two objects", "POST", "/api/v1/rules", `{"match_string":"a",` + okRule + `} {}`, 400, "Request body must be a JSON object"},
		{"unknown field", "POST", "/api/v1/rules", `{"match_string":"a","colour":"red",` + okRule + `}`, 400, `unknown field "colour"`},
		{"missing fields", "POST", "/api/v1/rules", `{"match_string":"a","team_assignment":"T"}`, 400, "Missing required fields: ['prod_handling', 'dev_handling']"},
		{"no match criterion", "POST", "/api/v1/rules", `{"match_string":"",` + okRule + `}`, 400, "Either match_string or trap_oid is required"},
		{"priority as string", "POST", "/api/v1/rules", `{"match_string":"a","priority":"5",` + okRule + `}`, 400, `field "priority" must be an integer`},
		{"priority fraction", "POST", "/api/v1/rules", `{"match_string":"a","priority":1.5,` + okRule + `}`, 400, `field "priority" must be an integer`},
		{"priority too big", "POST", "/api/v1/rules", `{"match_string":"a","priority":99999999999,` + okRule + `}`, 400, `field "priority" is out of range`},
		{"is_active as string", "POST", "/api/v1/rules", `{"match_string":"a","is_active":"yes",` + okRule + `}`, 400, `field "is_active" must be true or false`},
		{"handling null", "POST", "/api/v1/rules", `{"match_string":"a","prod_handling":null,"dev_handling":"D","team_assignment":"T"}`, 400, `field "prod_handling" must be a string, not null`},
		{"match_string number", "POST", "/api/v1/rules", `{"match_string":5,` + okRule + `}`, 400, `field "match_string" must be a string or null`},
		{"bad match_type", "POST", "/api/v1/rules", `{"match_string":"a","match_type":"glob",` + okRule + `}`, 400, "match_type must be one of: contains, regex, oid_prefix"},
		{"severity 8", "POST", "/api/v1/rules", `{"match_string":"a","syslog_severity":8,` + okRule + `}`, 400, "syslog_severity must be from 0 to 7"},
		{"severity -1", "POST", "/api/v1/rules", `{"match_string":"a","syslog_severity":-1,` + okRule + `}`, 400, "syslog_severity must be from 0 to 7"},
		{"match_string too long", "POST", "/api/v1/rules", `{"match_string":"` + strings.Repeat("é", 256) + `",` + okRule + `}`, 400, "match_string must be at most 255 characters"},
		{"team too long", "POST", "/api/v1/rules", `{"match_string":"a","prod_handling":"P","dev_handling":"D","team_assignment":"` + strings.Repeat("t", 101) + `"}`, 400, "team_assignment must be at most 100 characters"},
		{"invalid regex", "POST", "/api/v1/rules", `{"match_string":"(unclosed","match_type":"regex",` + okRule + `}`, 400, "invalid match_string: regex does not compile…"},
		{"invalid regex on update", "PUT", rulePath, `{"match_type":"regex","match_string":"a[b"}`, 400, "invalid match_string: regex does not compile…"},
		{"update unknown field", "PUT", rulePath, `{"id":7}`, 400, `unknown field "id"`},
		{"update wrong type", "PUT", rulePath, `{"priority":true}`, 400, `field "priority" must be an integer`},
		{"update priority null", "PUT", rulePath, `{"priority":null}`, 400, `field "priority" must be an integer, not null`},
		{"update not object", "PUT", rulePath, `"x"`, 400, "Request body must be a JSON object"},
		{"reason wrong type", "DELETE", rulePath, `{"reason":5}`, 400, `field "reason" must be a string or null`},
		{"host unknown field", "POST", "/api/v1/dev-hosts", `{"hostname":"h","team":"x"}`, 400, `unknown field "team"`},
		{"host wrong type", "POST", "/api/v1/dev-hosts", `{"hostname":5}`, 400, `field "hostname" must be a string or null`},
		{"host missing", "POST", "/api/v1/dev-hosts", `{"hostname":""}`, 400, "hostname is required"},
		{"host too long", "POST", "/api/v1/dev-hosts", `{"hostname":"` + strings.Repeat("h", 256) + `"}`, 400, "hostname must be at most 255 characters"},
		{"duplicate host", "POST", "/api/v1/dev-hosts", `{"hostname":"dev-sw-01"}`, 409, "Hostname already exists"},
		{"team missing", "POST", "/api/v1/teams", `{"hostname":"h","team_assignment":""}`, 400, "hostname and team_assignment are required"},
		{"team too long", "POST", "/api/v1/teams", `{"hostname":"h","team_assignment":"` + strings.Repeat("t", 101) + `"}`, 400, "team_assignment must be at most 100 characters"},
		{"team wrong type", "POST", "/api/v1/teams", `{"hostname":"h","team_assignment":["a"]}`, 400, `field "team_assignment" must be a string or null`},
		{"duplicate team", "POST", "/api/v1/teams", `{"hostname":"core-rtr-01","team_assignment":"X"}`, 409, "Hostname already has a team assignment"},
		{"team update unknown field", "PUT", "/api/v1/teams/core-rtr-01", `{"hostname":"x","team_assignment":"X"}`, 400, `unknown field "hostname"`},
		{"team update missing", "PUT", "/api/v1/teams/core-rtr-01", `{"reason":"r"}`, 400, "team_assignment is required"},
		{"oversized body", "POST", "/api/v1/teams", `{"hostname":"` + strings.Repeat("h", 1<<20) + `"}`, 413, "Request body too large…"},
		{"config value object", "PUT", "/api/v1/config/some_key", `{"value":{"a":1}}`, 400, "invalid value: …"},
		{"config name with glob", "PUT", "/api/v1/config/a*b", `{"value":1}`, 400, "invalid value…"},
		{"rule id not a number", "GET", "/api/v1/rules/1e3", ``, 404, "Not found"},
		{"rule id negative", "DELETE", "/api/v1/rules/-4", ``, 404, "Not found"},
		{"rule id too big", "GET", "/api/v1/rules/99999999999999999999", ``, 404, "Rule not found"},
	}
	e.checkRefusals(t, tests)
}

// refusal is a request the API must refuse, with its status and error.
type refusal struct {
	name, method, path, body string
	status                   int
	want                     string // error text, or its start when it ends with "…"
}

// checkRefusals makes each request, checks its status and error text, and
// that none of them changed the database.
func (e *env) checkRefusals(t *testing.T, tests []refusal) {
	t.Helper()
	before := e.tableDigests()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := e.do(req{method: tt.method, path: tt.path, body: tt.body}).want(t, tt.status)
			got := x.errorText(t)
			if want, prefix := strings.CutSuffix(tt.want, "…"); prefix && !strings.HasPrefix(got, want) || !prefix && got != tt.want {
				t.Errorf("error %q, want %q", got, tt.want)
			}
		})
	}
	if after := e.tableDigests(); after != before {
		t.Errorf("refused requests changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

// tableDigests is the md5 of every control-plane table's content.
func (e *env) tableDigests() string {
	e.t.Helper()
	var out []string
	for _, table := range []string{"alert_rules", "development_hosts", "device_teams", "config_audit_log", "event_audit_log"} {
		var sum string
		q := fmt.Sprintf(`SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM %s t`, table)
		if err := e.pool.QueryRow(e.t.Context(), q).Scan(&sum); err != nil {
			e.t.Fatalf("digest of %s: %v", table, err)
		}
		out = append(out, table+"="+sum)
	}
	return strings.Join(out, " ")
}

// SQL metacharacters in every text field are stored verbatim, and nothing
// else in the database changes.
func TestSQLMetacharactersStoredVerbatim(t *testing.T) {
	e := newEnv(t)
	e.seed()
	const evil = `'; DROP TABLE alert_rules; --`
	js := func(s string) string { return string(mustJSON(t, s)) }
	rulesBefore := e.count(`SELECT count(*) FROM alert_rules`)
	body := fmt.Sprintf(`{"match_string":%s,"trap_oid":%s,"prod_handling":%s,"dev_handling":%s,"team_assignment":%s,"reason":%s}`,
		js(evil), js(evil+"1"), js(evil), js(evil[:29]), js(evil[:28]), js(evil))
	id := e.createRule(body)
	rule := e.get(fmt.Sprintf("/api/v1/rules/%d", id)).want(t, 200).json(t)
	if rule["match_string"] != evil || rule["trap_oid"] != evil+"1" || rule["prod_handling"] != evil {
		t.Errorf("rule %v", rule)
	}
	e.do(req{method: "POST", path: "/api/v1/dev-hosts", body: `{"hostname":` + js(evil) + `}`}).want(t, 201)
	e.do(req{method: "POST", path: "/api/v1/teams", body: `{"hostname":` + js(evil) + `,"team_assignment":` + js(evil) + `}`}).want(t, 201)
	e.do(req{method: "PUT", path: "/api/v1/config/evil_key", body: `{"value":` + js(evil) + `,"reason":` + js(evil) + `}`}).want(t, 200)
	e.do(req{method: "PUT", path: "/api/v1/config/" + urlPath(evil), body: `{"value":1}`}).want(t, 400)
	for _, q := range []string{"changed_by", "table_name", "operation"} {
		x := e.get("/api/v1/audit?" + q + "=" + urlQuery(evil))
		if x.Status != 200 && x.Status != 400 {
			t.Errorf("audit %s: %d", q, x.Status)
		}
	}
	e.get("/api/v1/audit-logs?hostname="+urlQuery(evil)).want(t, 200)
	if n := e.count(`SELECT count(*) FROM alert_rules`); n != rulesBefore+1 {
		t.Errorf("%d rules, want %d", n, rulesBefore+1)
	}
	if n := e.count(`SELECT count(*) FROM development_hosts WHERE hostname = $1`, evil); n != 1 {
		t.Errorf("dev host stored %d times", n)
	}
	if n := e.count(`SELECT count(*) FROM device_teams WHERE hostname = $1 AND team_assignment = $1`, evil); n != 1 {
		t.Errorf("team stored %d times", n)
	}
	if v, _ := e.rdb.Get(t.Context(), e.prefix+":config:evil_key").Result(); v != evil {
		t.Errorf("config value %q", v)
	}
	// Deleting them leaves the database as it was, apart from audit rows.
	e.do(req{method: "DELETE", path: fmt.Sprintf("/api/v1/rules/%d", id)}).want(t, 200)
	e.do(req{method: "DELETE", path: "/api/v1/dev-hosts/" + urlPath(evil)}).want(t, 200)
	e.do(req{method: "DELETE", path: "/api/v1/teams/" + urlPath(evil)}).want(t, 200)
	if n := e.count(`SELECT count(*) FROM alert_rules`); n != rulesBefore {
		t.Errorf("%d rules after delete, want %d", n, rulesBefore)
	}
}

func TestPanicIsGeneric500(t *testing.T) {
	e := newEnv(t)
	h := e.srv.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("secret detail: password=hunter2")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/rules", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "hunter2") || !strings.Contains(rec.Body.String(), `"correlation_id"`) ||
		!strings.Contains(rec.Body.String(), `"error":"Internal server error"`) {
		t.Errorf("panic answer %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(e.logs.String(), "hunter2") {
		t.Error("panic detail not logged")
	}
	if rec.Header().Get("X-API-Version") != "2.5" {
		t.Error("no version header on the 500")
	}
}

func TestStartupNeedsAKey(t *testing.T) {
	cfg := config.DefaultWeb()
	if _, err := New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "WEBUI_API_KEY") {
		t.Errorf("New without a key: %v", err)
	}
	cfg.Dev = true
	var out bytes.Buffer
	srv, err := New(cfg, Deps{DevKeyOut: &out})
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String()[strings.LastIndex(out.String(), " ")+1:])
	if len(key) != 64 {
		t.Fatalf("generated key not printed: %q", out.String())
	}
	if _, ok := srv.Keyring().Match(key); !ok {
		t.Error("the printed key is not accepted")
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *config.Web, _ *Deps) { c.RateLimitPerMinute = 3 })
	var last Exchange
	for range 4 {
		last = e.do(req{method: "GET", path: "/api/v1/version", noKey: true})
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Errorf("4th request: %d %v", last.Status, last.Header)
	}
}
