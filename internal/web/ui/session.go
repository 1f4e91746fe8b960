package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web"
	"github.com/mutt-go/mutt/internal/web/auth"
	"github.com/mutt-go/mutt/internal/web/authguard"
)

// Cookies of the dashboard besides the session.
const (
	// loginCSRFCookie holds the double-submit token of the login form,
	// which is posted before there is a session to bind a token to.
	loginCSRFCookie = "mutt_login_csrf"
	// flashCookie carries the message of a post/redirect/get for one page
	// view.
	flashCookie = "mutt_flash"
)

// loginTokenLen is the length of a login form token: 24 random bytes,
// base64url.
const loginTokenLen = 32

// maxChangedBy is the width of config_audit_log.changed_by.
const maxChangedBy = 100

// maxReason bounds the reason an operator types.
const maxReason = 1000

// session is the signed-in operator of one request.
type session struct {
	id   auth.Identity
	csrf string
	s    *auth.Session
}

// handler is a page or action of a signed-in operator.
type handler func(w http.ResponseWriter, r *http.Request, s *session)

// current returns the session of r when its record exists and its key is
// still in the keyring with the same fingerprint. A session store failure
// is logged and counts as no session.
func (u *UI) current(r *http.Request) (*session, bool) {
	sess, err := u.deps.Sessions.Lookup(r.Context(), r, u.deps.Keyring)
	if err != nil {
		u.logger.Error("reading the dashboard session", "error", err, "correlation_id", web.CorrelationID(r))
	}
	if sess == nil {
		return nil, false
	}
	return &session{id: sess.Identity, csrf: sess.CSRF, s: sess}, true
}

// page serves h to a signed-in operator and sends anyone else to the login
// form, remembering where they were going.
func (u *UI) page(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := u.current(r)
		if !ok {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, s)
	})
}

// action is page for state-changing requests: it also requires the
// session's CSRF token and answers 403 without it.
func (u *UI) action(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := u.current(r)
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if !s.s.CheckCSRF(r) {
			u.logger.Warn("dashboard CSRF check failed", "path", r.URL.Path, "correlation_id", web.CorrelationID(r))
			u.errorPage(w, r, s, http.StatusForbidden, "The form's security token is missing or out of date. Go back, reload the page and try again.")
			return
		}
		if field, msg := badFormField(r); field != "" {
			u.errorPage(w, r, s, http.StatusBadRequest, "The field "+strconv.Quote(field)+" "+msg+". Go back and correct it.")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, s)
	})
}

// badFormField returns the first form field (in name order) whose name or
// value cannot be stored as PostgreSQL text, and why; "" when there is
// none. A body that does not parse is left to the handler.
func badFormField(r *http.Request) (field, msg string) {
	if err := r.ParseForm(); err != nil {
		return "", ""
	}
	names := make([]string, 0, len(r.PostForm))
	for name := range r.PostForm {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if m := web.TextProblem(name); m != "" {
			return strings.ToValidUTF8(name, "\ufffd"), m
		}
		for _, v := range r.PostForm[name] {
			if m := web.TextProblem(v); m != "" {
				return name, m
			}
		}
	}
	return "", ""
}

// actor is who makes a change through the dashboard: the key's
// fingerprint (never the key), the operator's reason, and the request's
// correlation id.
func (u *UI) actor(r *http.Request, s *session) store.Actor {
	by := "webui:" + s.id.Fingerprint
	if len(by) > maxChangedBy {
		by = by[:maxChangedBy]
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if utf8.RuneCountInString(reason) > maxReason {
		reason = string([]rune(reason)[:maxReason])
	}
	cid := web.CorrelationID(r)
	if cid == "" || cid == "system" {
		cid = uuid.NewString()
	}
	return store.Actor{ChangedBy: by, Reason: reason, CorrelationID: cid}
}

// loginView is the login page's data.
type loginView struct {
	Next  string
	Error string
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.current(r); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	u.renderLogin(w, r, http.StatusOK, loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

// renderLogin shows the login form with its double-submit token: the one
// the browser already holds, so that a second tab or a stray request for
// the login page does not invalidate the first form, else a fresh one.
func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	var token string
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) == loginTokenLen {
		token = c.Value
	} else {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		token = base64.RawURLEncoding.EncodeToString(b)
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/login", MaxAge: 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, status, "login", view{Title: "Sign in", CSRF: token, Data: v})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCSRFCookie)
	got := r.PostFormValue(auth.CSRFField)
	if err != nil || c.Value == "" || !hmac.Equal([]byte(c.Value), []byte(got)) {
		u.errorPage(w, r, nil, http.StatusForbidden, "The sign-in form's security token is missing or out of date. Reload the sign-in page and try again.")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if wait, ok := u.deps.AuthGuard.Allow(r); !ok {
		w.Header().Set("Retry-After", authguard.RetryAfter(wait))
		u.errorPage(w, r, nil, http.StatusTooManyRequests, "Too many wrong keys were tried from your address. Wait "+
			authguard.RetryAfter(wait)+" seconds, then sign in again.")
		return
	}
	id, ok := u.deps.Keyring.Match(r.PostFormValue("api_key"))
	if !ok {
		blocked := u.deps.AuthGuard.Fail(r, web.AuthBadLogin)
		u.logger.Warn("dashboard sign-in failed", "throttled", blocked, "correlation_id", web.CorrelationID(r))
		u.renderLogin(w, r, http.StatusUnauthorized, loginView{Next: next, Error: "That API key is not accepted."})
		return
	}
	// A session the browser already holds ends here: one sign-in, one
	// session, and a fixed session id gains nothing.
	if err := u.deps.Sessions.Revoke(r.Context(), r); err != nil {
		u.logger.Warn("ending the session signed in over", "error", err, "correlation_id", web.CorrelationID(r))
	}
	if err := u.deps.Sessions.Issue(r.Context(), w, r, id); err != nil {
		u.logger.Error("starting a dashboard session", "error", err, "correlation_id", web.CorrelationID(r))
		u.errorPage(w, r, nil, http.StatusServiceUnavailable, "Signing in is not possible right now: the session store does not answer. Try again in a moment.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/login", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	u.logger.Info("dashboard sign-in", "key_name", id.Name, "key_fingerprint", id.Fingerprint,
		"correlation_id", web.CorrelationID(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := u.deps.Sessions.Revoke(r.Context(), r); err != nil {
		u.logger.Error("ending a dashboard session", "error", err, "correlation_id", web.CorrelationID(r))
		u.errorPage(w, r, s, http.StatusServiceUnavailable, "Signing out did not reach the session store; the session is still open. Try again in a moment.")
		return
	}
	u.logger.Info("dashboard sign-out", "key_name", s.id.Name, "key_fingerprint", s.id.Fingerprint,
		"correlation_id", web.CorrelationID(r))
	u.deps.Sessions.Clear(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-login destination on this site: a path starting
// with a single slash, else "/". Control characters and backslashes are
// refused anywhere, since browsers drop tabs and newlines from a Location
// and read "\\" as "/", which would turn "/\t/evil" into "//evil".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/login") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	return next
}

// flash is a message for the next page view.
type flash struct {
	Text  string
	Error bool
}

// redirect answers a successful or failed form with 303 to target, leaving
// msg for the page it shows (post/redirect/get).
func (u *UI) redirect(w http.ResponseWriter, r *http.Request, target string, f flash) {
	kind := "ok"
	if f.Error {
		kind = "err"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(kind + ":" + f.Text), Path: "/",
		MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// takeFlash reads and clears the flash message of r.
func takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return nil
	}
	kind, text, ok := strings.Cut(v, ":")
	if !ok || text == "" {
		return nil
	}
	if utf8.RuneCountInString(text) > 500 {
		text = string([]rune(text)[:500])
	}
	return &flash{Text: text, Error: kind == "err"}
}
