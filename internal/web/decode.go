package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/mutt-go/mutt/internal/configinput"
	"github.com/mutt-go/mutt/internal/event"
)

// Messages of body problems.
const (
	msgNotObject = "Request body must be a JSON object"
	// msgEventNotObject is event.CheckObject's rule for a body that is no
	// object.
	msgEventNotObject = "must be a JSON object"
)

// maxBodyDepth bounds the nesting of a request body.
const maxBodyDepth = 32

// badRequest is a 400 answer to give.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{msg: fmt.Sprintf(format, args...)} }

// readBody reads the whole (size-limited) body; it answers 413 itself and
// returns ok=false then.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Body == nil {
		return nil, true
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.tooLarge(w)
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "Could not read the request body")
		return nil, false
	}
	return b, true
}

// object is a decoded JSON object body whose members are decoded on demand.
type object map[string]json.RawMessage

// decodeObject reads a body that must be a JSON object with only the
// allowed members. It answers 400/413 itself and returns ok=false then.
func (s *Server) decodeObject(w http.ResponseWriter, r *http.Request, allowed ...string) (object, bool) {
	return s.decodeBody(w, r, false, allowed)
}

// decodeBody is decodeObject; when optional, an empty body is an empty
// object.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, optional bool, allowed []string) (object, bool) {
	b, ok := s.readBody(w, r)
	if !ok {
		return nil, false
	}
	if optional && len(bytes.TrimSpace(b)) == 0 {
		return object{}, true
	}
	obj, err := parseObject(b, allowed)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return obj, true
}

// optionalReason reads a body that may be empty or hold only "reason". It
// answers 400/413 itself and returns ok=false then.
func (s *Server) optionalReason(w http.ResponseWriter, r *http.Request) (string, bool) {
	o, ok := s.decodeBody(w, r, true, []string{"reason"})
	if !ok {
		return "", false
	}
	reason, err := o.reason()
	return reason, !answerBad(w, err)
}

// checkStrict checks a body as ingest checks events, since encoding/json
// repairs what ingest refuses (duplicate keys, invalid UTF-8, lone
// surrogates) and lets NUL through to PostgreSQL, which cannot store it.
// The error is a *badRequest naming the member.
func checkStrict(b []byte) error {
	err := event.CheckObject(b, maxBodyDepth)
	if err == nil {
		return nil
	}
	var fe *event.FieldError
	switch {
	case errors.As(err, &fe) && fe.Field != "":
		return badf("field %q %s", fe.Field, fe.Rule)
	case fe != nil && fe.Rule != msgEventNotObject:
		return badf("Request body %s", fe.Rule)
	}
	return badf(msgNotObject)
}

func parseObject(b []byte, allowed []string) (object, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, badf(msgNotObject)
	}
	if err := checkStrict(b); err != nil {
		return nil, err
	}
	var obj object
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, badf(msgNotObject)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badf(msgNotObject)
	}
	var unknown []string
	for k := range obj {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, badf("unknown field %q", unknown[0])
	}
	return obj, nil
}

// has reports whether the member is present (even as null).
func (o object) has(name string) bool {
	_, ok := o[name]
	return ok
}

// isNull reports whether the member is present and null.
func (o object) isNull(name string) bool {
	v, ok := o[name]
	return ok && bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// member returns the raw member to decode; nil when absent, or null and
// nullable. A null that is not allowed is a 400 naming what it must be.
func (o object) member(name string, nullable bool, mustBe string) (json.RawMessage, error) {
	raw, ok := o[name]
	if !ok || (nullable && o.isNull(name)) {
		return nil, nil
	}
	if o.isNull(name) {
		return nil, badf("field %q must be %s, not null", name, mustBe)
	}
	return raw, nil
}

// str decodes a string member; null is allowed only when nullable. It
// returns nil when absent or null.
func (o object) str(name string, nullable bool) (*string, error) {
	raw, err := o.member(name, nullable, "a string")
	if raw == nil {
		return nil, err
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		if nullable {
			return nil, badf("field %q must be a string or null", name)
		}
		return nil, badf("field %q must be a string", name)
	}
	return &v, nil
}

// integer decodes a whole-number member within the 32-bit range of the
// table columns; nil when absent or null (and nullable).
func (o object) integer(name string, nullable bool) (*int, error) {
	raw, err := o.member(name, nullable, "an integer")
	if raw == nil {
		return nil, err
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || (t[0] != '-' && (t[0] < '0' || t[0] > '9')) {
		return nil, badf("field %q must be an integer", name)
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return nil, badf("field %q must be an integer", name)
	}
	i, err := n.Int64()
	if err != nil {
		return nil, badf("field %q must be an integer", name)
	}
	if i < math.MinInt32 || i > math.MaxInt32 {
		return nil, badf("field %q is out of range", name)
	}
	v := int(i)
	return &v, nil
}

// boolean decodes a true/false member; nil when absent or null (and
// nullable).
func (o object) boolean(name string, nullable bool) (*bool, error) {
	raw, err := o.member(name, nullable, "true or false")
	if raw == nil {
		return nil, err
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, badf("field %q must be true or false", name)
	}
	return &v, nil
}

// reason returns the optional "reason" member.
func (o object) reason() (string, error) {
	p, err := o.str("reason", true)
	if err != nil || p == nil {
		return "", err
	}
	return *p, nil
}

// pyList renders names as a Python list literal, the original's wording.
func pyList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + n + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// answerBad writes err as a 400 when it is a *badRequest or a
// *configinput.FieldError (the first, for several) and reports whether it
// did.
func answerBad(w http.ResponseWriter, err error) bool {
	var br *badRequest
	var fe *configinput.FieldError
	switch {
	case errors.As(err, &br):
		writeError(w, http.StatusBadRequest, br.msg)
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Message)
	default:
		return false
	}
	return true
}
