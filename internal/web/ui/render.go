package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mutt-go/mutt/internal/web"
)

//go:embed assets
var assets embed.FS

// pageNames are the templates under assets/pages, each rendered inside
// assets/layout.html.
var pageNames = []string{
	"login", "error", "overview", "rules", "rule_form", "dev_hosts", "teams", "events", "audit",
	"config", "config_form", "dlq", "dlq_queue",
}

// pages are the parsed templates and the static assets.
type pages struct {
	byName map[string]*template.Template
	// assetPrefix is /static/<content hash>/: a new build gets new URLs,
	// so the assets can be cached for a year.
	assetPrefix string
	staticFS    fs.FS
}

func loadPages() (*pages, error) {
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, fmt.Errorf("reading embedded assets: %w", err)
	}
	h := sha256.New()
	err = fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hashing embedded assets: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}, staticFS: static,
		assetPrefix: "/static/" + hex.EncodeToString(h.Sum(nil)[:6]) + "/"}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/pages/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// static serves the embedded assets with year-long cache headers.
func (p *pages) static() http.Handler {
	files := http.FileServerFS(p.staticFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		files.ServeHTTP(w, r)
	})
}

// view is what the layout renders around a page.
type view struct {
	Title       string
	Nav         string // the active navigation entry
	CSRF        string
	Flash       *flash
	Identity    string // the signed-in key's name; "" on the login page
	Version     string
	APIVersion  string
	Assets      string
	AutoRefresh bool
	Data        any
}

// render executes page name inside the layout; a template error becomes a
// plain 500 (the page is built in memory first, so nothing half-written
// goes out).
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.Assets = u.pages.assetPrefix
	v.Version = u.deps.Version
	v.APIVersion = web.CurrentVersion
	var buf bytes.Buffer
	if err := u.pages.byName[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		u.logger.Error("rendering dashboard page", "page", name, "error", err, "correlation_id", web.CorrelationID(r))
		http.Error(w, "Internal server error (correlation id "+web.CorrelationID(r)+")", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// show renders a signed-in page with the session's token and flash.
func (u *UI) show(w http.ResponseWriter, r *http.Request, s *session, status int, name, nav, title string, data any) {
	u.render(w, r, status, name, view{
		Title: title, Nav: nav, CSRF: s.csrf, Flash: takeFlash(w, r), Identity: s.id.Name, Data: data,
	})
}

// errorPage shows msg with status; s may be nil (not signed in).
func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	v := view{Title: http.StatusText(status), Data: msg}
	if s != nil {
		v.CSRF, v.Identity = s.csrf, s.id.Name
	}
	u.render(w, r, status, "error", v)
}

// failed logs err and shows a generic error with the correlation id; the
// detail never reaches the browser.
func (u *UI) failed(w http.ResponseWriter, r *http.Request, s *session, doing string, err error) {
	cid := web.CorrelationID(r)
	u.logger.Error("dashboard: "+doing, "error", err, "correlation_id", cid)
	u.errorPage(w, r, s, http.StatusInternalServerError,
		fmt.Sprintf("Something went wrong %s. The details are in the server log under correlation id %s.", doing, cid))
}

// needStore shows a 503 page when there is no database and reports whether
// there is one.
func (u *UI) needStore(w http.ResponseWriter, r *http.Request, s *session) bool {
	if u.deps.Store == nil {
		u.errorPage(w, r, s, http.StatusServiceUnavailable, "The database is not configured.")
		return false
	}
	return true
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request, s *session) {
	u.errorPage(w, r, s, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
}

// funcs are the helpers the templates use.
var funcs = template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"rate": func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"dash": func(v any) string {
		switch t := v.(type) {
		case nil:
			return "-"
		case string:
			if t == "" {
				return "-"
			}
			return t
		case *string:
			if t == nil || *t == "" {
				return "-"
			}
			return *t
		case *int:
			if t == nil {
				return "-"
			}
			return strconv.Itoa(*t)
		}
		return fmt.Sprint(v)
	},
	"opclass": func(op string) string { return "op-" + strings.ToLower(op) },
	"pretty": func(raw json.RawMessage) string {
		if len(raw) == 0 {
			return "null"
		}
		var b bytes.Buffer
		if json.Indent(&b, raw, "", "  ") != nil {
			return string(raw)
		}
		return b.String()
	},
	"selected": func(a, b string) bool { return a == b },
}
