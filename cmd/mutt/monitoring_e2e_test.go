package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/itest"
)

// fastRules rewrites the shipped rules for a test that must finish in
// seconds: every group evaluates each second, every `for:` is two seconds
// and every rate window five, keeping the expressions themselves.
func fastRules(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^(\s+)interval: \w+$`).ReplaceAll(b, []byte("${1}interval: 1s"))
	b = regexp.MustCompile(`(?m)^(\s+)for: \w+$`).ReplaceAll(b, []byte("${1}for: 2s"))
	b = regexp.MustCompile(`\[(5|10|30)m\]`).ReplaceAll(b, []byte("[5s]"))
	return b
}

// monitoring is a private Prometheus and Alertmanager on free ports.
type monitoring struct {
	t        *testing.T
	promURL  string
	alertURL string
}

// startMonitoring runs Alertmanager and a Prometheus that scrapes target
// as job, evaluates the fast copy of deploy/prometheus/mutt-rules.yml and
// sends to that Alertmanager.
func startMonitoring(t *testing.T, job, target string) *monitoring {
	t.Helper()
	prom := itest.Tool(t, "prometheus", "prometheus")
	am := itest.Tool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	amPort, promPort := itest.FreePort(t), itest.FreePort(t)
	amConfig := `route:
  receiver: "null"
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
`
	writeFile(t, filepath.Join(dir, "alertmanager.yml"), amConfig)
	startTool(t, am, "--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "am"), "--web.listen-address=127.0.0.1:"+strconv.Itoa(amPort),
		"--cluster.listen-address=")
	rules := fastRules(t, filepath.Join("..", "..", "deploy", "prometheus", "mutt-rules.yml"))
	writeFile(t, filepath.Join(dir, "rules.yml"), string(rules))
	promConfig := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:%d"]
scrape_configs:
  - job_name: %q
    static_configs:
      - targets: [%q]
`, filepath.Join(dir, "rules.yml"), amPort, job, target)
	writeFile(t, filepath.Join(dir, "prometheus.yml"), promConfig)
	startTool(t, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address=127.0.0.1:"+strconv.Itoa(promPort))
	m := &monitoring{t: t, promURL: fmt.Sprintf("http://127.0.0.1:%d", promPort), alertURL: fmt.Sprintf("http://127.0.0.1:%d", amPort)}
	itest.Eventually(t, 30*time.Second, "Prometheus and Alertmanager ready", func() bool {
		return httpOK(m.promURL+"/-/ready") && httpOK(m.alertURL+"/-/ready")
	})
	return m
}

func startTool(t *testing.T, path string, args ...string) {
	t.Helper()
	cmd := exec.Command(path, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(path), tail(logs.String(), 3000))
		}
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func httpOK(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func getJSON(t *testing.T, u string, into any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, body)
	}
}

// activeAt reports whether Alertmanager holds an active alert of that name.
func (m *monitoring) activeAt(name string) bool {
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	getJSON(m.t, m.alertURL+"/api/v2/alerts?filter="+url.QueryEscape(`alertname="`+name+`"`), &alerts)
	for _, a := range alerts {
		if a.Labels["alertname"] == name && a.Status.State == "active" {
			return true
		}
	}
	return false
}

// firing reports whether Prometheus has the alert firing.
func (m *monitoring) firing(name string) bool {
	var out struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	getJSON(m.t, m.promURL+"/api/v1/alerts", &out)
	for _, a := range out.Data.Alerts {
		if a.Labels["alertname"] == name && a.State == "firing" {
			return true
		}
	}
	return false
}

// query evaluates expr now and returns the number of series and the first
// value.
func (m *monitoring) query(expr string) (int, float64, error) {
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	resp, err := http.Get(m.promURL + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, 0, err
	}
	if out.Status != "success" {
		return 0, 0, fmt.Errorf("%s", out.Error)
	}
	if len(out.Data.Result) == 0 {
		return 0, 0, nil
	}
	s, _ := out.Data.Result[0].Value[1].(string)
	v, _ := strconv.ParseFloat(s, 64)
	return len(out.Data.Result), v, nil
}

// TestAlertsFireAtAlertmanagerAndResolve runs `mutt serve` (built from the
// tree) scraped by a real Prometheus with the shipped rules, and checks at
// a real Alertmanager that the breaker alert fires while the fake Moogsoft
// fails and resolves after it recovers, and that the stuck-alerter alert
// fires while audit writes are blocked and resolves when they are not.
// Then it evaluates every query of the Grafana dashboard against the same
// Prometheus.
func TestAlertsFireAtAlertmanagerAndResolve(t *testing.T) {
	e := newEnv(t)
	fake := fakemoog.New(fakemoog.Options{APIKey: "moog-key"})
	moog := httptest.NewServer(fake)
	defer moog.Close()
	ingestPort, alerterMetrics := itest.FreePort(t), itest.FreePort(t)
	startProcess(t, e, []string{"serve", "--no-migrate"},
		"INGEST_LISTEN=127.0.0.1:"+strconv.Itoa(ingestPort),
		"ALERTER_METRICS_LISTEN=127.0.0.1:"+strconv.Itoa(alerterMetrics),
		"FORWARDER_METRICS_LISTEN=127.0.0.1:0", "FORWARDER_HEALTH_LISTEN=127.0.0.1:0",
		"REMEDIATION_METRICS_LISTEN=127.0.0.1:0", "REMEDIATION_HEALTH_LISTEN=127.0.0.1:0",
		"MOOG_WEBHOOK_URL="+moog.URL+"/events", "MOOG_API_KEY=moog-key", "MOOG_HEALTH_URL="+moog.URL+"/health",
		"MOOG_MAX_RETRIES=100", "MOOG_RETRY_BASE_DELAY=0.05", "MOOG_RETRY_MAX_DELAY=0.2", "FORWARDER_BLOCK=0.2",
		"CIRCUIT_BREAKER_THRESHOLD=3", "CIRCUIT_BREAKER_TIMEOUT=1", "DYNAMIC_CONFIG_ENABLED=false")
	ingestURL := fmt.Sprintf("http://127.0.0.1:%d", ingestPort)
	itest.Eventually(t, 30*time.Second, "mutt serve healthy", func() bool {
		return httpOK(ingestURL+"/health") && httpOK(fmt.Sprintf("http://127.0.0.1:%d/health", alerterMetrics))
	})
	m := startMonitoring(t, "mutt-alerter", fmt.Sprintf("127.0.0.1:%d", alerterMetrics))

	// Steady traffic: one page-worthy event every 100 ms until the test ends.
	var sent atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			body := fmt.Sprintf(`{"hostname":"edge-%d.example.com","message":"%%LINK-3-UPDOWN: Interface Gi0/%d, changed state to down","timestamp":"%s"}`,
				i%5, i, time.Now().UTC().Format(time.RFC3339))
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ingestURL+"/ingest", strings.NewReader(body))
			req.Header.Set("X-API-KEY", "e2e-ingest-key-0123456789")
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					sent.Add(1)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	itest.Eventually(t, 30*time.Second, "alerts reach the fake Moogsoft", func() bool { return fake.Distinct() > 3 })
	itest.Eventually(t, 20*time.Second, "Prometheus scrapes the alerter and forwarder", func() bool {
		n, _, err := m.query(`mutt_moog_requests_total{status="success"}`)
		return err == nil && n > 0
	})
	if m.activeAt("MUTTMoogCircuitOpen") || m.activeAt("MUTTAlerterStuck") {
		t.Fatal("an alert is active while everything works")
	}

	t.Run("breaker", func(t *testing.T) {
		fake.SetMode(fakemoog.Mode{Status: http.StatusServiceUnavailable})
		itest.Eventually(t, 30*time.Second, "MUTTMoogCircuitOpen active at Alertmanager", func() bool { return m.activeAt("MUTTMoogCircuitOpen") })
		fake.SetMode(fakemoog.Mode{})
		itest.Eventually(t, 30*time.Second, "MUTTMoogCircuitOpen resolved", func() bool {
			return !m.firing("MUTTMoogCircuitOpen") && !m.activeAt("MUTTMoogCircuitOpen")
		})
	})

	t.Run("stuck alerter", func(t *testing.T) {
		// An open transaction holding an exclusive lock on the audit table
		// blocks every audit insert: the alerter holds its batches, pending.
		tx, err := e.pool.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(context.Background()) }()
		if _, err := tx.Exec(context.Background(), "LOCK TABLE event_audit_log IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		itest.Eventually(t, 40*time.Second, "MUTTAlerterStuck active at Alertmanager", func() bool { return m.activeAt("MUTTAlerterStuck") })
		if err := tx.Rollback(context.Background()); err != nil {
			t.Fatal(err)
		}
		itest.Eventually(t, 40*time.Second, "MUTTAlerterStuck resolved", func() bool {
			return !m.firing("MUTTAlerterStuck") && !m.activeAt("MUTTAlerterStuck")
		})
	})

	t.Run("dashboard", func(t *testing.T) {
		for _, q := range dashboardQueries(t, filepath.Join("..", "..", "deploy", "grafana", "mutt-overview.json")) {
			n, _, err := m.query(q.expr)
			if err != nil {
				t.Errorf("panel %q: %s: %v", q.panel, q.expr, err)
				continue
			}
			// Backup and retention series come from the textfile those
			// commands write, which this Prometheus does not scrape.
			textfile := strings.Contains(q.expr, "mutt_backup_") || strings.Contains(q.expr, "mutt_retention_")
			if n == 0 && !textfile {
				t.Errorf("panel %q: %s returns no data from a running mutt serve", q.panel, q.expr)
			}
		}
	})
	t.Logf("%d events sent, %d alerts received", sent.Load(), fake.Distinct())
}

// dashboardQuery is one target of a dashboard panel.
type dashboardQuery struct{ panel, expr string }

func dashboardQueries(t *testing.T, path string) []dashboardQuery {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []dashboardQuery
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, dashboardQuery{p.Title, tg.Expr})
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d queries in %s", len(out), path)
	}
	return out
}
