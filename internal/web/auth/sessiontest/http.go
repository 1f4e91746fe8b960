package sessiontest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mutt-go/mutt/internal/web/auth"
)

// issue signs id in and returns a request carrying the session cookie.
func issue(t *testing.T, s *auth.Sessions, id auth.Identity) *http.Request {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := s.Issue(t.Context(), rec, httptest.NewRequest(http.MethodPost, "/login", nil), id); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}
