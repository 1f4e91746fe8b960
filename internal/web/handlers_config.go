package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mutt-go/mutt/internal/configadmin"
)

const msgNoDynamicConfig = "Dynamic configuration not available"

func (s *Server) handleConfigList(w http.ResponseWriter, r *http.Request) {
	if s.deps.Config == nil {
		writeError(w, http.StatusServiceUnavailable, msgNoDynamicConfig)
		return
	}
	entries, err := s.deps.Config.List(r.Context())
	if err != nil {
		s.internalError(w, r, "listing dynamic config", err)
		return
	}
	values := make(map[string]string, len(entries))
	for _, e := range entries {
		values[e.Name] = e.Value
	}
	writeJSON(w, http.StatusOK, map[string]any{"config": values, "count": len(values)})
}

// configChange is the answer of PUT /config/{key}.
type configChange struct {
	Key      string  `json:"key"`
	OldValue *string `json:"old_value"`
	NewValue string  `json:"new_value"`
}

func (s *Server) handleConfigSet(w http.ResponseWriter, r *http.Request) {
	if s.deps.Config == nil {
		writeError(w, http.StatusServiceUnavailable, msgNoDynamicConfig)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	// The body is read leniently, as it always was: anything that is not a
	// JSON object counts as an empty one.
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		body = nil
	} else if answerBad(w, checkStrict(b)) {
		return
	}
	raw, ok := body["value"]
	if !ok {
		writeError(w, http.StatusBadRequest, "Missing 'value' in request body")
		return
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		writeError(w, http.StatusBadRequest, "value must not be null")
		return
	}
	value, err := configadmin.FormatValue(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid value: "+trimInvalid(err))
		return
	}
	var reason string
	if rr, ok := body["reason"]; ok {
		if err := json.Unmarshal(rr, &reason); err != nil && !bytes.Equal(bytes.TrimSpace(rr), []byte("null")) {
			writeError(w, http.StatusBadRequest, `field "reason" must be a string`)
			return
		}
	}
	key := r.PathValue("key")
	c, err := s.deps.Config.Set(r.Context(), key, value, actor(r, reason))
	if err != nil {
		if errors.Is(err, configadmin.ErrInvalidValue) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.internalError(w, r, "setting dynamic config", err)
		return
	}
	writeJSON(w, http.StatusOK, configChange{Key: key, OldValue: c.Old, NewValue: c.New})
}

// trimInvalid drops the "invalid value: " opening FormatValue's errors
// share, to say it once.
func trimInvalid(err error) string {
	msg := err.Error()
	const p = "invalid value: "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}
