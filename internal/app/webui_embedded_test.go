package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web/auth"
)

const embeddedWebKey = "embedded-webui-key-0123456789"

// webClient is an HTTP client of the web UI that keeps cookies and does not
// follow redirects, with the CSRF token of the last page it read.
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var embeddedCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// do sends a request (with the API key when key is set) and returns the
// status and body.
func (w *webClient) do(method, path, contentType, body string, key bool) (int, string, http.Header) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.base+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key {
		req.Header.Set("X-API-KEY", embeddedWebKey)
	}
	res, err := w.c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		w.t.Fatalf("reading %s: %v", path, err)
	}
	if m := embeddedCSRF.FindSubmatch(b); m != nil {
		w.csrf = string(m[1])
	}
	return res.StatusCode, string(b), res.Header
}

// api calls the REST API with the key and decodes its JSON answer, failing
// unless the status is want.
func (w *webClient) api(method, path, body string, want int) map[string]any {
	w.t.Helper()
	status, text, _ := w.do(method, path, "application/json", body, true)
	if status != want {
		w.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, text)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		w.t.Fatalf("%s %s: %v in %s", method, path, err, text)
	}
	return m
}

// form posts a dashboard form with the last CSRF token.
func (w *webClient) form(path string, v url.Values) (int, string, http.Header) {
	w.t.Helper()
	v.Set(auth.CSRFField, w.csrf)
	return w.do(http.MethodPost, path, "application/x-www-form-urlencoded", v.Encode(), false)
}

// page reads a dashboard page and fails unless it answers 200.
func (w *webClient) page(path string) string {
	w.t.Helper()
	status, body, _ := w.do(http.MethodGet, path, "", "", false)
	if status != http.StatusOK {
		w.t.Fatalf("GET %s: %d\n%s", path, status, body)
	}
	return body
}

// TestEmbeddedWebUI runs the web UI role with no Redis and no PostgreSQL:
// a rule created through the REST API reads back, a dynamic config change
// is audited, and the dashboard's overview and DLQ pages read the data
// directory's database, whose dead letter a replay moves back to the alert
// queue.
func TestEmbeddedWebUI(t *testing.T) {
	cfg := embeddedConfig(t)
	cfg.Web.Listen = "127.0.0.1:0"
	cfg.Web.APIKey = secrets.New(embeddedWebKey)
	srv, ready := newEmbeddedServer(t, cfg, RoleWebUI)
	dead, err := roles.StoreDeadLetter(cfg.Keys.MoogDLQ, queue.DeadLetter{
		Payload: []byte(`{"alert":"LINK-DOWN"}`), Reason: "moog_5xx", Source: cfg.Keys.AlertQueue, Attempts: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.db.Commit(t.Context(), sqlstore.Batch{Dead: []sqlstore.DeadLetter{dead}}); err != nil {
		t.Fatal(err)
	}

	addrs := serve(t, srv, ready)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &webClient{t: t, base: "http://" + addrs["webui"], c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	if h := w.api(http.MethodGet, "/health", "", http.StatusOK); h["storage"] != "embedded" || h["database"] != "connected" {
		t.Errorf("health %v", h)
	}
	created := w.api(http.MethodPost, "/api/v2/rules",
		`{"match_string":"CPU-HOT","prod_handling":"Page_only","dev_handling":"Ignore","team_assignment":"Ops","reason":"embedded"}`,
		http.StatusCreated)
	id, _ := created["id"].(float64)
	if id <= 0 {
		t.Fatalf("create answered %v", created)
	}
	if rule := w.api(http.MethodGet, fmt.Sprintf("/api/v2/rules/%d", int64(id)), "", http.StatusOK); rule["match_string"] != "CPU-HOT" ||
		rule["team_assignment"] != "Ops" {
		t.Errorf("rule read back %v", rule)
	}

	if m := w.api(http.MethodPut, "/api/v2/config/alerter_shed_mode", `{"value":"dlq","reason":"embedded test"}`,
		http.StatusOK); m["new_value"] != "dlq" {
		t.Errorf("config change answered %v", m)
	}
	if v, ok, err := srv.db.ConfigValue(t.Context(), "alerter_shed_mode"); err != nil || !ok || v != "dlq" {
		t.Errorf("stored alerter_shed_mode %q (set %v, err %v), want dlq", v, ok, err)
	}
	audit := w.api(http.MethodGet, "/api/v2/config-audit?table_name=dynamic_config", "", http.StatusOK)
	changes, _ := audit["changes"].([]any)
	if len(changes) != 1 {
		t.Fatalf("config audit %v: want the one dynamic config change", audit)
	}
	if row := changes[0].(map[string]any); row["reason"] != "embedded test" ||
		row["new_values"].(map[string]any)["value"] != "dlq" {
		t.Errorf("config audit row %v", row)
	}

	w.page("/login")
	if status, body, h := w.form("/login", url.Values{"api_key": {embeddedWebKey}}); status != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Fatalf("POST /login: %d → %q\n%s", status, h.Get("Location"), body)
	}
	overview := w.page("/")
	for _, want := range []string{"Moogsoft circuit breaker", "no breaker in this process", "dynamic_config", "embedded test"} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	moog := w.page("/dlq/moog")
	entryID := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(moog)
	if entryID == nil || !strings.Contains(moog, "moog_5xx") {
		t.Fatalf("the moog DLQ page does not list the parked entry:\n%s", moog)
	}
	if status, body, _ := w.form("/dlq/moog/replay", url.Values{"id": {entryID[1]}, "max_replays": {"3"}}); status != http.StatusSeeOther {
		t.Fatalf("replay: %d\n%s", status, body)
	}
	if n, err := srv.db.Len(t.Context(), cfg.Keys.AlertQueue); err != nil || n != 1 {
		t.Errorf("alert queue after the replay: %d (err %v), want the replayed alert", n, err)
	}
	if n, err := srv.db.DeadLetterCount(t.Context(), cfg.Keys.MoogDLQ); err != nil || n != 0 {
		t.Errorf("moog DLQ after the replay: %d (err %v), want empty", n, err)
	}
	rows, _, err := srv.db.SearchConfigAudit(t.Context(), store.ConfigAuditFilter{TableName: dlqadmin.AuditTable, Limit: 10})
	if err != nil || len(rows) != 1 {
		t.Errorf("replay audit rows %v (err %v), want one", rows, err)
	}
}
