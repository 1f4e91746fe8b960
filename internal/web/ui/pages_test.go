package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web/auth"
)

func TestPagesNeedASession(t *testing.T) {
	e := newEnv(t)
	ms := "LINK-3-UPDOWN"
	id, err := e.st.CreateRule(t.Context(), store.Rule{MatchString: &ms, MatchType: "contains", Priority: 10,
		ProdHandling: "Page_and_ticket", DevHandling: "Ignore", TeamAssignment: "NET", IsActive: true},
		store.Actor{ChangedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"/", "/rules", "/rules/new", "/rules/" + strconv.FormatInt(id, 10), "/dev-hosts", "/teams",
		"/events", "/events?hostname=r1&rule_id=1&start_date=2025-01-01T00:00", "/audit",
		"/audit?operation=CREATE&table_name=alert_rules&page=2", "/config", "/config/edit?key=moog_rate_limit",
		"/dlq", "/dlq/alerter", "/dlq/moog", "/dlq/dead"}

	anon := e.browser()
	for _, p := range paths {
		got := anon.get(p)
		if got.Status != http.StatusSeeOther || !strings.HasPrefix(got.location(), "/login?next=") {
			t.Errorf("GET %s without a session: %d → %q, want 303 to /login", p, got.Status, got.location())
		}
	}

	b := e.browser()
	b.login()
	for _, p := range paths {
		got := b.get(p)
		if got.Status != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", p, got.Status, got.Body)
			continue
		}
		if !strings.Contains(got.Body, `<a class="skip" href="#main">`) || !strings.Contains(got.Body, `name="csrf_token"`) {
			t.Errorf("GET %s lacks the skip link or the sign-out form's token", p)
		}
		h := got.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s headers: %v", p, h)
		}
		if strings.Contains(got.Body, " style=") || strings.Contains(got.Body, "<style") {
			t.Errorf("GET %s has inline styles, which the CSP blocks", p)
		}
	}
	if got := b.get("/no-such-page"); got.Status != http.StatusNotFound {
		t.Errorf("unknown page: %d", got.Status)
	}
	if got := b.get("/rules/999999"); got.Status != http.StatusNotFound {
		t.Errorf("unknown rule: %d", got.Status)
	}
	if got := b.get("/dlq/nope"); got.Status != http.StatusNotFound {
		t.Errorf("unknown queue: %d", got.Status)
	}
	if got := b.get("/audit?record_id=abc"); got.Status != http.StatusBadRequest || !strings.Contains(got.Body, "Enter a record number.") {
		t.Errorf("bad record id: %d", got.Status)
	}
}

func TestOverview(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for i := range 3 {
		if err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.IngestQueue, Values: []any{"e", strconv.Itoa(i)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.rdb.Set(ctx, e.keys.BreakerPrefix+":state", "OPEN", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.Set(ctx, e.keys.BreakerPrefix+":failures", "12", 0).Err(); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login()
	if p := b.post("/dev-hosts", url.Values{"hostname": {"lab1"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("adding a host: %d", p.Status)
	}
	p := b.get("/")
	for _, want := range []string{"Current Rate", "15 Min Avg", "1 Hour Avg", "Events / Min", "0.00",
		"Avg Message Rate (per min) by Hour - Last 24 Hours", "<svg class=\"chart\"", "<polyline class=\"line\"",
		"Hour (UTC)", "Avg Events / Min", "Ingest queue", "<td class=\"num\">3</td>", "state-OPEN", ">12<",
		"development_hosts", "Refreshes every 10 seconds", `data-autorefresh="10"`, "refresh.js"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	p := b.get("/")
	prefix := regexpFind(t, p.Body, `href="(/static/[0-9a-f]+/)style.css"`)
	for _, tt := range []struct{ file, ctype string }{{"style.css", "text/css"}, {"refresh.js", "text/javascript"}} {
		got := e.browser().get(prefix + tt.file) // assets need no session
		if got.Status != http.StatusOK || !strings.HasPrefix(got.Header.Get("Content-Type"), tt.ctype) ||
			!strings.Contains(got.Header.Get("Cache-Control"), "max-age=31536000") || got.Body == "" {
			t.Errorf("%s: %d %v", tt.file, got.Status, got.Header)
		}
	}
	if got := b.get("/static/0000/style.css"); got.Status != http.StatusNotFound {
		t.Errorf("stale asset prefix: %d", got.Status)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.get("/login")
	p := b.post("/login", url.Values{"api_key": {"wrong"}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "That API key is not accepted.") {
		t.Errorf("wrong key: %d", p.Status)
	}
	if strings.Contains(p.Body, "wrong") {
		t.Errorf("the page echoes the key")
	}
	if p := b.post("/login", url.Values{"api_key": {testKey}, auth.CSRFField: {"forged"}}); p.Status != http.StatusForbidden {
		t.Errorf("login with a forged token: %d", p.Status)
	}
	b.get("/login?next=/teams")
	p = b.post("/login", url.Values{"api_key": {testKey}, "next": {"/teams"}})
	if p.Status != http.StatusSeeOther || p.location() != "/teams" {
		t.Fatalf("login: %d → %q", p.Status, p.location())
	}
	var cookie string
	for _, c := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, auth.CookieName+"=") {
			cookie = c
		}
	}
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") || strings.Contains(cookie, testKey) {
		t.Errorf("session cookie %q", cookie)
	}
	if got := b.get("/teams"); got.Status != http.StatusOK {
		t.Errorf("after login: %d", got.Status)
	}
	if got := b.post("/logout", nil); got.Status != http.StatusSeeOther || got.location() != "/login" {
		t.Errorf("logout: %d %q", got.Status, got.location())
	}
	if got := b.get("/teams"); got.Status != http.StatusSeeOther {
		t.Errorf("after logout: %d", got.Status)
	}

	// Open redirects are refused.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil", "/\t/evil.example", "/\n/evil.example", "/a\\..\\/evil", "/\x7f/evil"} {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
	if got := safeNext("/rules?page=2"); got != "/rules?page=2" {
		t.Errorf("safeNext of a local path = %q", got)
	}
}

func TestCSRFRejected(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	form := url.Values{"match_string": {"x"}, "match_type": {"contains"}, "priority": {"1"},
		"prod_handling": {"Ignore"}, "dev_handling": {"Ignore"}, "team_assignment": {"T"}}
	for _, token := range []string{"", "forged"} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set(auth.CSRFField, token)
		if p := b.post("/rules", f); p.Status != http.StatusForbidden {
			t.Errorf("token %q: %d", token, p.Status)
		}
	}
	for _, path := range []string{"/dev-hosts", "/teams", "/config", "/dlq/moog/replay", "/rules/test", "/logout"} {
		if p := b.post(path, url.Values{auth.CSRFField: {"forged"}, "hostname": {"h"}}); p.Status != http.StatusForbidden {
			t.Errorf("POST %s with a forged token: %d", path, p.Status)
		}
	}
	if rows, total, err := e.st.SearchConfigAudit(t.Context(), store.ConfigAuditFilter{Limit: 10}); err != nil || total != 0 {
		t.Errorf("rejected forms changed something: %v %v", rows, err)
	}
	anon := e.browser()
	if p := anon.post("/rules", form); p.Status != http.StatusSeeOther || p.location() != "/login" {
		t.Errorf("POST without a session: %d %q", p.Status, p.location())
	}
}

func TestRuleForms(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	b.get("/rules/new")

	// Validation errors are shown next to their fields.
	p := b.post("/rules", url.Values{"match_string": {"("}, "match_type": {"regex"}, "priority": {"x"},
		"prod_handling": {""}, "dev_handling": {"Ignore"}, "team_assignment": {"NET"}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid rule: %d", p.Status)
	}
	for _, want := range []string{`id="priority_error">must be a whole number`, `id="prod_handling_error">must not be empty`,
		`id="match_string_error">`, `value="("`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("error page lacks %q", want)
		}
	}
	if rows := e.auditRows("alert_rules"); len(rows) != 0 {
		t.Fatalf("invalid rule audited: %v", rows)
	}

	p = b.post("/rules", url.Values{"match_string": {"LINK-3-UPDOWN"}, "match_type": {"contains"}, "priority": {"5"},
		"syslog_severity": {"3"}, "prod_handling": {"Page_and_ticket"}, "dev_handling": {"Ignore"},
		"team_assignment": {"NETWORK"}, "is_active": {"1"}, "reason": {"new router fleet"}})
	list := b.follow(p)
	id := regexpFind(t, list.Body, `Rule (\d+) created\.`)
	if !strings.Contains(list.Body, "LINK-3-UPDOWN") || !strings.Contains(list.Body, `href="/rules/`+id+`"`) {
		t.Errorf("the new rule is not listed")
	}
	rows := e.auditRows("alert_rules")
	if len(rows) != 1 {
		t.Fatalf("%d audit rows, want 1", len(rows))
	}
	r := rows[0]
	if r.Operation != store.OpCreate || strconv.FormatInt(r.RecordID, 10) != id || r.ChangedBy != "webui:"+auth.Fingerprint(testKey) ||
		r.Reason == nil || *r.Reason != "new router fleet" || r.CorrelationID == nil || len(*r.CorrelationID) != 36 {
		t.Errorf("CREATE row %+v", r)
	}
	if strings.Contains(string(r.NewValues)+r.ChangedBy, testKey) {
		t.Errorf("the key leaked into the audit row")
	}

	// Edit: only what changed is recorded.
	b.get("/rules/" + id)
	p = b.post("/rules/"+id, url.Values{"match_string": {"LINK-3-UPDOWN"}, "match_type": {"contains"}, "priority": {"5"},
		"syslog_severity": {"3"}, "prod_handling": {"Page_and_ticket"}, "dev_handling": {"Ignore"},
		"team_assignment": {"EDGE"}, "is_active": {"1"}})
	if got := b.follow(p); !strings.Contains(got.Body, "Rule "+id+" updated (1 field(s)).") || !strings.Contains(got.Body, "EDGE") {
		t.Errorf("after the edit:\n%s", got.Body)
	}
	rows = e.auditRows("alert_rules")
	if len(rows) != 2 || rows[1].Operation != store.OpUpdate {
		t.Fatalf("rows after edit: %+v", rows)
	}
	var nv map[string]any
	if err := json.Unmarshal(rows[1].NewValues, &nv); err != nil || len(nv) != 1 || nv["team_assignment"] != "EDGE" {
		t.Errorf("UPDATE new values %s", rows[1].NewValues)
	}

	// The audit page shows both.
	audit := b.get("/audit?table_name=alert_rules")
	for _, want := range []string{"Created with 9 fields", "Updated 1 field(s)", "op-create", "op-update", "new router fleet"} {
		if !strings.Contains(audit.Body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}

	b.get("/rules/" + id)
	p = b.post("/rules/"+id+"/delete", url.Values{"reason": {"fleet retired"}})
	if got := b.follow(p); !strings.Contains(got.Body, "Rule "+id+" deleted.") || strings.Contains(got.Body, "<code>LINK-3-UPDOWN</code>") {
		t.Errorf("after the delete:\n%s", got.Body)
	}
	rows = e.auditRows("alert_rules")
	if len(rows) != 3 || rows[2].Operation != store.OpDelete || rows[2].Reason == nil || *rows[2].Reason != "fleet retired" {
		t.Errorf("rows after delete: %+v", rows)
	}
}

func TestRuleTestBox(t *testing.T) {
	e := newEnv(t)
	ms := "LINK-3-UPDOWN"
	id, err := e.st.CreateRule(t.Context(), store.Rule{MatchString: &ms, MatchType: "contains", Priority: 10,
		ProdHandling: "Page_and_ticket", DevHandling: "Ignore", TeamAssignment: "NETWORK", IsActive: true},
		store.Actor{ChangedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login()
	b.get("/rules")
	tests := []struct {
		name   string
		event  string
		status int
		want   []string
	}{
		{"match", `{"hostname":"router1","message":"%LINK-3-UPDOWN: down"}`, http.StatusOK,
			[]string{"Matches rule " + strconv.FormatInt(id, 10), "Page_and_ticket", "audit row written and an alert sent"}},
		{"no match", `{"hostname":"router1","message":"hello"}`, http.StatusOK,
			[]string{"No rule matches", "NETO", "unhandled"}},
		{"refused", `{"message":"no host"}`, http.StatusUnprocessableEntity,
			[]string{`id="event_error">the event would be refused at ingest`}},
		{"empty", ``, http.StatusUnprocessableEntity, []string{"Paste an event"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post("/rules/test", url.Values{"event": {tt.event}})
			if p.Status != tt.status {
				t.Fatalf("status %d, want %d\n%s", p.Status, tt.status, p.Body)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.Body, w) {
					t.Errorf("result lacks %q", w)
				}
			}
		})
	}
}

func TestHostTeamAndConfigForms(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()

	b.get("/dev-hosts")
	if got := b.follow(b.post("/dev-hosts", url.Values{"hostname": {"lab1"}})); !strings.Contains(got.Body, "lab1 is now a development host.") {
		t.Errorf("add host:\n%s", got.Body)
	}
	if p := b.post("/dev-hosts", url.Values{"hostname": {"lab1"}}); p.Status != http.StatusConflict ||
		!strings.Contains(p.Body, `id="hostname_error">lab1 is already a development host.`) {
		t.Errorf("duplicate host: %d", p.Status)
	}
	if p := b.post("/dev-hosts", url.Values{"hostname": {" "}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("blank host: %d", p.Status)
	}
	if got := b.follow(b.post("/dev-hosts/delete", url.Values{"hostname": {"lab1"}})); !strings.Contains(got.Body, "lab1 is no longer") {
		t.Errorf("delete host:\n%s", got.Body)
	}
	if rows := e.auditRows("development_hosts"); len(rows) != 2 || rows[0].Operation != store.OpCreate || rows[1].Operation != store.OpDelete {
		t.Errorf("host audit rows %+v", rows)
	}

	b.get("/teams")
	b.follow(b.post("/teams", url.Values{"hostname": {"r1"}, "team_assignment": {"NET"}}))
	if got := b.follow(b.post("/teams/update", url.Values{"hostname": {"r1"}, "team_assignment": {"EDGE"}})); !strings.Contains(got.Body, "r1 now belongs to EDGE.") {
		t.Errorf("update team:\n%s", got.Body)
	}
	if p := b.post("/teams", url.Values{"hostname": {"r2"}, "team_assignment": {""}}); p.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.Body, `id="team_assignment_error">Enter a team.`) {
		t.Errorf("blank team: %d", p.Status)
	}
	b.follow(b.post("/teams/delete", url.Values{"hostname": {"r1"}}))
	if rows := e.auditRows("device_teams"); len(rows) != 3 || rows[1].Operation != store.OpUpdate {
		t.Errorf("team audit rows %+v", rows)
	}

	b.get("/config/edit?key=moog_rate_limit")
	if got := b.follow(b.post("/config", url.Values{"key": {"moog_rate_limit"}, "value": {"40"}, "reason": {"INC-7"}})); !strings.Contains(got.Body, "moog_rate_limit set to 40.") {
		t.Errorf("config set:\n%s", got.Body)
	}
	if p := b.post("/config", url.Values{"key": {"moog_rate_limit"}, "value": {"lots"}}); p.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.Body, `id="value_error">`) {
		t.Errorf("invalid config value: %d", p.Status)
	}
	if rows := e.auditRows("dynamic_config"); len(rows) != 1 || rows[0].Reason == nil || *rows[0].Reason != "INC-7" {
		t.Errorf("config audit rows %+v", rows)
	}
}

// TestFormsShowTheAPIMessages checks that the dashboard refuses what the
// API refuses, with the API's words next to the field, and that the footer
// shows the product version.
func TestFormsShowTheAPIMessages(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	tests := []struct {
		name, form, path string
		values           url.Values
		want             []string
	}{
		{"host too long", "/dev-hosts", "/dev-hosts", url.Values{"hostname": {strings.Repeat("h", 256)}},
			[]string{`id="hostname_error">hostname must be at most 255 characters`}},
		{"team too long", "/teams", "/teams", url.Values{"hostname": {"r1"}, "team_assignment": {strings.Repeat("t", 101)}},
			[]string{`id="team_assignment_error">team_assignment must be at most 100 characters`}},
		{"rule", "/rules/new", "/rules", url.Values{"match_string": {"a"}, "match_type": {"glob"}, "syslog_severity": {"9"},
			"priority": {"1"}, "prod_handling": {"P"}, "dev_handling": {"D"}, "team_assignment": {"T"}},
			[]string{`id="match_type_error">match_type must be one of: contains, regex, oid_prefix`,
				`id="syslog_severity_error">syslog_severity must be from 0 to 7`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.get(tt.form); !strings.Contains(got.Body, "MUTT test") {
				t.Errorf("%s: the footer lacks the version", tt.form)
			}
			p := b.post(tt.path, tt.values)
			if p.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", p.Status)
			}
			for _, want := range tt.want {
				if !strings.Contains(p.Body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
	if rows := e.auditRows("alert_rules"); len(rows) != 0 {
		t.Fatalf("refused input audited: %v", rows)
	}
}
