package ui

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which the test command installs.
const chromiumPath = "/usr/bin/chromium"

// artifactsDir is $MUTT_ARTIFACTS_DIR, else <repo>/artifacts, created.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MUTT_ARTIFACTS_DIR")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		root := wd
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatalf("no go.mod above %s", wd)
			}
			root = parent
		}
		dir = filepath.Join(root, "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating the artifacts folder: %v", err)
	}
	return dir
}

// TestBrowser drives the dashboard in headless Chromium as an operator
// would: sign in, create a rule through the form, find it in the list and
// its CREATE entry in the config audit trail, delete it; and it saves a
// screenshot of the overview.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: the test command installs Debian's chromium", chromiumPath)
		}
		t.Skipf("%s is missing; install Debian's chromium to run the browser test", chromiumPath)
	}
	e := newEnv(t)
	// Some traffic, so that the screenshot shows a chart with a shape.
	now := time.Now().UTC()
	for h := range 24 {
		key := e.keys.MetricsPrefix + ":1h:" + now.Add(-time.Duration(h)*time.Hour).Format("2006-01-02T15")
		if err := e.rdb.Set(t.Context(), key, 6000+h*h*40, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.rdb.Set(t.Context(), e.keys.MetricsPrefix+":1m:"+now.Format("2006-01-02T15:04"), 120, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	var text string
	run := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		got, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatalf("%s: reading the page: %v", step, err)
		}
		text = got
	}

	run("sign in",
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#api_key")),
		chromedp.SendKeys(chromedp.CSS("#api_key"), testKey+"\r"),
		chromedp.WaitVisible(chromedp.CSS(".stat")),
	)
	if !strings.Contains(text, "MUTT Message Rate Dashboard") || !strings.Contains(text, "Current Rate") {
		t.Fatalf("overview after sign-in:\n%s", text)
	}
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot of the overview: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 1000 {
		t.Fatalf("the screenshot is not a PNG (%d bytes)", len(png))
	}
	shot := filepath.Join(artifactsDir(t), "overview.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatalf("writing %s: %v", shot, err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("%s: %v", shot, err)
	}

	const match = "BROWSER-TEST-7-LINKDOWN"
	run("create a rule through the form",
		chromedp.Navigate(e.ts.URL+"/rules/new"),
		chromedp.WaitVisible(chromedp.CSS("#match_string")),
		chromedp.SendKeys(chromedp.CSS("#match_string"), match),
		chromedp.SendKeys(chromedp.CSS("#prod_handling"), "Page_and_ticket"),
		chromedp.SendKeys(chromedp.CSS("#dev_handling"), "Ignore"),
		chromedp.SendKeys(chromedp.CSS("#team_assignment"), "NETWORK"),
		chromedp.SendKeys(chromedp.CSS("#reason"), "browser test\r"),
		chromedp.WaitVisible(chromedp.CSS("p.flash")),
	)
	if !strings.Contains(text, "created.") || !strings.Contains(text, match) {
		t.Fatalf("rules page after create:\n%s", text)
	}
	rows := e.auditRows("alert_rules")
	if len(rows) != 1 || rows[0].Operation != "CREATE" {
		t.Fatalf("audit rows after create: %+v", rows)
	}

	run("see the CREATE entry in the config audit trail",
		chromedp.Navigate(e.ts.URL+"/audit"),
		chromedp.WaitVisible(chromedp.CSS("table.audit")),
	)
	if !strings.Contains(text, "CREATE") || !strings.Contains(text, "alert_rules") || !strings.Contains(text, "browser test") ||
		!strings.Contains(text, "Created with 9 fields") {
		t.Fatalf("config audit page:\n%s", text)
	}

	run("delete the rule",
		chromedp.Navigate(e.ts.URL+"/rules"),
		chromedp.WaitVisible(chromedp.CSS("table")),
		chromedp.Click(chromedp.CSS(`a[href^="/rules/"]:not([href="/rules/new"])`)),
		chromedp.WaitVisible(chromedp.CSS("button.danger")),
		chromedp.Click(chromedp.CSS("button.danger")),
		chromedp.WaitVisible(chromedp.CSS("p.flash")),
	)
	if !strings.Contains(text, "deleted.") || strings.Contains(text, match) {
		t.Fatalf("rules page after delete:\n%s", text)
	}
	if rows := e.auditRows("alert_rules"); len(rows) != 2 || rows[1].Operation != "DELETE" {
		t.Fatalf("audit rows after delete: %+v", rows)
	}
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the browser test took longer than 30 s")
	}
}
