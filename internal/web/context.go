package web

import (
	"context"
	"net/http"

	"github.com/mutt-go/mutt/internal/web/auth"
)

// requestInfo is what the middleware learns about one request. It is
// created by the outermost middleware and filled in by the inner layers
// (route, version, caller); only the request's goroutine touches it.
type requestInfo struct {
	correlationID string
	route         string // matched route template, e.g. /api/v1/rules/{id}
	version       string // negotiated API version (API paths only)
	identity      auth.Identity
	authenticated bool
}

type infoKey struct{}

// info returns the request's requestInfo; a blank one when the request did
// not pass the middleware (never nil).
func info(r *http.Request) *requestInfo {
	if ri, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{correlationID: "system"}
}

func withInfo(r *http.Request, ri *requestInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
}

// CorrelationID returns the correlation id of the request being served, or
// "system" outside a request; the dashboard uses it in its own logs.
func CorrelationID(r *http.Request) string { return info(r).correlationID }

// Caller returns the authenticated identity of the request, if any.
func Caller(r *http.Request) (auth.Identity, bool) {
	ri := info(r)
	return ri.identity, ri.authenticated
}
