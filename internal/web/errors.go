package web

import (
	"errors"
	"net/http"

	"github.com/mutt-go/mutt/internal/store"
)

// Messages of the contract.
const (
	msgInternal       = "Internal server error"
	msgDBUnavailable  = "Database not initialized"
	msgRuleNotFound   = "Rule not found"
	msgHostNotFound   = "Hostname not found"
	msgNotFound       = "Not found"
	msgRuleReferenced = "Rule is referenced by event audit records; deactivate it (is_active=false) instead"
	msgInvalidChange  = "Invalid value: it breaks a constraint of the table"
)

// internalError logs err with the request's correlation id and answers a
// generic 500 that carries only the correlation id.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	cid := info(r).correlationID
	s.logger.Error(what, "error", err, "method", r.Method, "path", r.URL.Path, "correlation_id", cid)
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: msgInternal, CorrelationID: cid})
}

// storeError answers a store error: not found → 404 notFound, duplicate →
// 409 conflict, referenced → 409, invalid change → 400, else 500.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, what string, err error, notFound, conflict string) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, notFound)
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, conflict)
	case errors.Is(err, store.ErrReferenced):
		writeError(w, http.StatusConflict, msgRuleReferenced)
	case errors.Is(err, store.ErrInvalidConfigChange):
		s.logger.Warn(what+": refused by the store", "error", err, "correlation_id", info(r).correlationID)
		writeError(w, http.StatusBadRequest, msgInvalidChange)
	default:
		s.internalError(w, r, what, err)
	}
}

// actor is who makes a change through this request.
func actor(r *http.Request, reason string) store.Actor {
	ri := info(r)
	by := "webui_api:unknown"
	if ri.authenticated {
		by = ri.identity.ChangedBy()
	}
	return store.Actor{ChangedBy: by, Reason: reason, CorrelationID: ri.correlationID}
}

// needStore answers 503 when there is no database, and reports whether
// there is one.
func (s *Server) needStore(w http.ResponseWriter) bool {
	if s.deps.Store == nil {
		writeError(w, http.StatusServiceUnavailable, msgDBUnavailable)
		return false
	}
	return true
}
