package event

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// Rules named in FieldErrors.
const (
	ruleObject     = "must be a JSON object"
	ruleDuplicate  = "appears more than once"
	ruleRequired   = "is required"
	ruleString     = "must be a string"
	ruleNotEmpty   = "must not be empty"
	ruleSurrogate  = `must not contain a \u escape of an unpaired UTF-16 surrogate`
	ruleHostLen    = "must be at most 255 characters"
	ruleHostNUL    = "must not contain NUL characters"
	ruleTimestamp  = "must be an RFC 3339 date-time, e.g. 2025-01-15T14:30:22Z"
	ruleYear       = "must have a year from 1970 to 9999"
	ruleSeverity   = "must be an integer from 0 to 7 or a severity name"
	ruleTrapOIDLen = "must be at most 255 bytes"
)

// Keys with a meaning to MUTT.
const (
	keyHostname       = "hostname"
	keyMessage        = "message"
	keyTimestamp      = "timestamp"
	keySyslogSeverity = "syslog_severity"
	keySeverity       = "severity"
	keyTrapOID        = "trap_oid"
	keyEventID        = "_event_id"
	keyCorrelationID  = "_correlation_id"
)

// member is one top-level member of an event object, located in its text.
type member struct {
	key    []byte // the unescaped key; aliases the text unless it had escapes
	ks, ke int    // the key literal, quotes included
	vs, ve int    // the raw value
}

func (m *member) isString(raw []byte) bool { return raw[m.vs] == '"' }
func (m *member) isNull(raw []byte) bool   { return raw[m.vs] == 'n' }

// analysis is what Normalize needs beyond the Event to rebuild the text.
type analysis struct {
	members []member
	// sevIdx is the index of the syslog_severity member, or -1.
	sevIdx int
	// sevWrite says the output must carry syslog_severity as the bare digit
	// Event.Severity: in place of the member at sevIdx, or appended when
	// there is none.
	sevWrite bool
}

// inlineMembers is how many members an event may have before the member list
// spills to the heap; typical events have five to eight.
const inlineMembers = 16

// Normalize validates one event object (as returned by Split) and returns it
// normalised for the queue. Validation stops at the first broken rule, checked
// in this order: JSON syntax (*BodyError), object and nesting depth, duplicate
// keys, the required fields in Options order, hostname, message, timestamp,
// syslog_severity, trap_oid (all *FieldError).
//
// Event.JSON is a new object, its members joined without white space,
// holding the client's members in their original order with their original
// value bytes (nested white space included), minus every key that starts
// with "_" (reserved for MUTT); syslog_severity is rewritten as a bare integer
// when it was given as a name, a digit string or a float, or appended when it
// was absent and severity holds a severity name; then _event_id and
// _correlation_id from stamp are appended (each omitted when empty). Event.ID
// and Event.CorrelationID are the stamp's, invalid UTF-8 replaced by U+FFFD as
// in the text.
func Normalize(raw []byte, stamp Stamp, opts *Options) (Event, error) {
	var inline [inlineMembers]member
	ev, a, err := analyze(raw, opts, inline[:0], false)
	if err != nil {
		return Event{}, err
	}
	ev.ID = validUTF8(stamp.EventID)
	ev.CorrelationID = validUTF8(stamp.CorrelationID)

	out := make([]byte, 0, len(raw)+len(ev.ID)+len(ev.CorrelationID)+64)
	out = append(out, '{')
	sep := func() {
		if len(out) > 1 {
			out = append(out, ',')
		}
	}
	for k := range a.members {
		m := &a.members[k]
		if len(m.key) > 0 && m.key[0] == '_' {
			continue
		}
		sep()
		out = append(out, raw[m.ks:m.ke]...)
		out = append(out, ':')
		if k == a.sevIdx && a.sevWrite {
			out = append(out, byte('0'+ev.Severity))
		} else {
			out = append(out, raw[m.vs:m.ve]...)
		}
	}
	if a.sevWrite && a.sevIdx < 0 {
		sep()
		out = append(out, `"`+keySyslogSeverity+`":`...)
		out = append(out, byte('0'+ev.Severity))
	}
	if ev.ID != "" {
		sep()
		out = append(out, `"`+keyEventID+`":`...)
		out = AppendString(out, ev.ID)
	}
	if ev.CorrelationID != "" {
		sep()
		out = append(out, `"`+keyCorrelationID+`":`...)
		out = AppendString(out, ev.CorrelationID)
	}
	ev.JSON = append(out, '}')
	return ev, nil
}

// Decode reads an event as stored on the queue, whether normalised by
// Normalize or written by an older producer. It applies Normalize's rules and
// error types with these differences: _event_id and _correlation_id are read
// into ID and CorrelationID ("" when absent or not strings), "_"-prefixed keys
// are kept, and a severity given as a name is mapped into Severity without
// touching the text. Event.JSON is stored itself.
func Decode(stored []byte, opts *Options) (Event, error) {
	var inline [inlineMembers]member
	ev, _, err := analyze(stored, opts, inline[:0], true)
	if err != nil {
		return Event{}, err
	}
	ev.JSON = stored
	return ev, nil
}

// analyze parses and validates an event. members is scratch space for the
// member list. With decode set it also reads _event_id and _correlation_id.
func analyze(raw []byte, opts *Options, members []member, decode bool) (Event, analysis, error) {
	ev := Event{Severity: NoSeverity}
	a := analysis{sevIdx: -1}
	s := scanner{data: raw, maxDepth: opts.maxDepth()}

	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return ev, a, notObject(&s, i)
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if i >= len(raw) {
				s.failEOF(i)
				return ev, a, s.bodyError()
			}
			if raw[i] != '"' {
				s.failChar(i, "looking for beginning of object key string")
				return ev, a, s.bodyError()
			}
			m := member{ks: i}
			if i = s.str(i); i < 0 {
				return ev, a, s.bodyError()
			}
			m.ke = i
			m.key = raw[m.ks+1 : m.ke-1]
			if s.escaped {
				// A key holding an unpaired surrogate escape keeps its
				// escaped spelling, which still identifies it.
				if k, ok := appendUnescaped(nil, raw[m.ks:m.ke]); ok {
					m.key = k
				}
			}
			if i = skipSpace(raw, i); i >= len(raw) {
				s.failEOF(i)
				return ev, a, s.bodyError()
			}
			if raw[i] != ':' {
				s.failChar(i, "after object key")
				return ev, a, s.bodyError()
			}
			m.vs = skipSpace(raw, i+1)
			if m.ve = s.value(m.vs, 1); m.ve < 0 {
				if s.tooDeep {
					return ev, a, depthError(s.maxDepth)
				}
				return ev, a, s.bodyError()
			}
			members = append(members, m)
			if i = skipSpace(raw, m.ve); i >= len(raw) {
				s.failEOF(i)
				return ev, a, s.bodyError()
			}
			if raw[i] == '}' {
				i++
				break
			}
			if raw[i] != ',' {
				s.failChar(i, "after object key:value pair")
				return ev, a, s.bodyError()
			}
			i = skipSpace(raw, i+1)
		}
	}
	if i = skipSpace(raw, i); i < len(raw) {
		s.failChar(i, "after top-level value")
		return ev, a, s.bodyError()
	}
	a.members = members

	if k := duplicate(members); k >= 0 {
		return ev, a, &FieldError{Field: string(members[k].key), Rule: ruleDuplicate}
	}

	idxHost, idxMsg, idxTS, idxSeverity, idxOID, idxEID, idxCID := -1, -1, -1, -1, -1, -1, -1
	for k := range members {
		switch string(members[k].key) {
		case keyHostname:
			idxHost = k
		case keyMessage:
			idxMsg = k
		case keyTimestamp:
			idxTS = k
		case keySyslogSeverity:
			a.sevIdx = k
		case keySeverity:
			idxSeverity = k
		case keyTrapOID:
			idxOID = k
		case keyEventID:
			idxEID = k
		case keyCorrelationID:
			idxCID = k
		}
	}

	for _, name := range opts.required() {
		if name == "" {
			continue
		}
		if err := checkRequired(raw, members, name); err != nil {
			return ev, a, err
		}
	}

	// The strings of the Event are unescaped into one buffer, stack-allocated
	// when small, and become one heap string at the end.
	var bufArr [320]byte
	buf := bufArr[:0]
	var host, msg, oid, eid, cid [2]int
	var ok bool

	if idxHost >= 0 {
		m := &members[idxHost]
		if !m.isString(raw) {
			return ev, a, &FieldError{Field: keyHostname, Rule: ruleString}
		}
		host[0] = len(buf)
		if buf, ok = appendUnescaped(buf, raw[m.vs:m.ve]); !ok {
			return ev, a, &FieldError{Field: keyHostname, Rule: ruleSurrogate}
		}
		host[1] = len(buf)
		h := buf[host[0]:host[1]]
		if len(h) > maxHostnameChars && utf8.RuneCount(h) > maxHostnameChars {
			return ev, a, &FieldError{Field: keyHostname, Rule: ruleHostLen}
		}
		if bytes.IndexByte(h, 0) >= 0 {
			return ev, a, &FieldError{Field: keyHostname, Rule: ruleHostNUL}
		}
	}
	if idxMsg >= 0 {
		m := &members[idxMsg]
		if !m.isString(raw) {
			return ev, a, &FieldError{Field: keyMessage, Rule: ruleString}
		}
		msg[0] = len(buf)
		if buf, ok = appendUnescaped(buf, raw[m.vs:m.ve]); !ok {
			return ev, a, &FieldError{Field: keyMessage, Rule: ruleSurrogate}
		}
		msg[1] = len(buf)
	}
	if idxTS >= 0 {
		t, err := timestampOf(raw, &members[idxTS])
		if err != nil {
			return ev, a, err
		}
		ev.Timestamp = t
	}

	if a.sevIdx >= 0 && !members[a.sevIdx].isNull(raw) {
		m := &members[a.sevIdx]
		n, exact, ok := severityValue(raw[m.vs:m.ve])
		if !ok {
			return ev, a, &FieldError{Field: keySyslogSeverity, Rule: ruleSeverity}
		}
		ev.Severity = n
		a.sevWrite = !exact
	} else if idxSeverity >= 0 && members[idxSeverity].isString(raw) {
		// severity is free text from rsyslog or SNMP tools; names that are
		// not syslog severities ("Minor", "Major") are left alone.
		m := &members[idxSeverity]
		if n, ok := severityString(raw[m.vs:m.ve]); ok {
			ev.Severity = n
			a.sevWrite = true
		}
	}
	if decode {
		a.sevWrite = false
	}

	if idxOID >= 0 && !members[idxOID].isNull(raw) {
		m := &members[idxOID]
		if !m.isString(raw) {
			return ev, a, &FieldError{Field: keyTrapOID, Rule: ruleString}
		}
		oid[0] = len(buf)
		if buf, ok = appendUnescaped(buf, raw[m.vs:m.ve]); !ok {
			return ev, a, &FieldError{Field: keyTrapOID, Rule: ruleSurrogate}
		}
		oid[1] = len(buf)
		if oid[1]-oid[0] > maxTrapOIDBytes {
			return ev, a, &FieldError{Field: keyTrapOID, Rule: ruleTrapOIDLen}
		}
	}

	if decode {
		buf, eid = appendID(buf, raw, members, idxEID)
		buf, cid = appendID(buf, raw, members, idxCID)
	}

	all := string(buf)
	ev.Hostname = all[host[0]:host[1]]
	ev.Message = all[msg[0]:msg[1]]
	ev.TrapOID = all[oid[0]:oid[1]]
	ev.ID = all[eid[0]:eid[1]]
	ev.CorrelationID = all[cid[0]:cid[1]]
	return ev, a, nil
}

// notObject explains why the text starting at i is not an event object.
func notObject(s *scanner, i int) error {
	if i >= len(s.data) {
		s.failEOF(i)
		return s.bodyError()
	}
	end := s.value(i, 0)
	if end < 0 && !s.tooDeep {
		return s.bodyError()
	}
	if end >= 0 {
		if j := skipSpace(s.data, end); j < len(s.data) {
			s.failChar(j, "after top-level value")
			return s.bodyError()
		}
	}
	return &FieldError{Rule: ruleObject}
}

func depthError(limit int) error {
	return &FieldError{Rule: "must not be nested more than " + strconv.Itoa(limit) + " levels deep"}
}

// duplicate returns the index of the first member whose key appeared before,
// or -1.
func duplicate(members []member) int {
	if len(members) <= 32 {
		for k := 1; k < len(members); k++ {
			for j := 0; j < k; j++ {
				if bytes.Equal(members[j].key, members[k].key) {
					return k
				}
			}
		}
		return -1
	}
	seen := make(map[string]struct{}, len(members))
	for k := range members {
		if _, dup := seen[string(members[k].key)]; dup {
			return k
		}
		seen[string(members[k].key)] = struct{}{}
	}
	return -1
}

func checkRequired(raw []byte, members []member, name string) error {
	for k := range members {
		m := &members[k]
		if string(m.key) != name {
			continue
		}
		if !m.isString(raw) {
			return &FieldError{Field: name, Rule: ruleString}
		}
		v := raw[m.vs+1 : m.ve-1]
		if bytes.IndexByte(v, '\\') >= 0 {
			var ok bool
			if v, ok = appendUnescaped(nil, raw[m.vs:m.ve]); !ok {
				// An unpaired surrogate escape is content; the field's own
				// rules reject it where it matters.
				return nil
			}
		}
		if len(bytes.TrimSpace(v)) == 0 {
			return &FieldError{Field: name, Rule: ruleNotEmpty}
		}
		return nil
	}
	return &FieldError{Field: name, Rule: ruleRequired}
}

func timestampOf(raw []byte, m *member) (t time.Time, err error) {
	if !m.isString(raw) {
		return t, &FieldError{Field: keyTimestamp, Rule: ruleString}
	}
	v := raw[m.vs+1 : m.ve-1]
	if bytes.IndexByte(v, '\\') >= 0 {
		var tmp [48]byte
		v, _ = appendUnescaped(tmp[:0], raw[m.vs:m.ve])
	}
	t, ok, yearOK := parseTimestamp(v)
	switch {
	case !yearOK:
		return t, &FieldError{Field: keyTimestamp, Rule: ruleYear}
	case !ok:
		return t, &FieldError{Field: keyTimestamp, Rule: ruleTimestamp}
	}
	return t, nil
}

// severityValue reads a syslog_severity value: an integral JSON number 0-7
// or a string ParseSeverity accepts. exact reports that the value is already
// the bare digit, so the text needs no rewriting.
func severityValue(v []byte) (n int, exact, ok bool) {
	switch c := v[0]; {
	case len(v) == 1 && '0' <= c && c <= '7':
		return int(c - '0'), true, true
	case c == '"':
		n, ok = severityString(v)
		return n, false, ok
	case c == '-' || isDigit(c):
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || f < 0 || f > 7 || f != float64(int(f)) {
			return 0, false, false
		}
		return int(f), false, true
	}
	return 0, false, false
}

// severityString maps a JSON string literal holding a severity name or digit.
func severityString(lit []byte) (int, bool) {
	v := lit[1 : len(lit)-1]
	if bytes.IndexByte(v, '\\') >= 0 {
		var tmp [32]byte
		var ok bool
		if v, ok = appendUnescaped(tmp[:0], lit); !ok {
			return 0, false
		}
	}
	return parseSeverity(v)
}

// appendID unescapes the string value of members[idx] into buf; values that
// are absent, not strings or not representable count as absent.
func appendID(buf, raw []byte, members []member, idx int) ([]byte, [2]int) {
	if idx < 0 || !members[idx].isString(raw) {
		return buf, [2]int{}
	}
	m := &members[idx]
	start := len(buf)
	out, ok := appendUnescaped(buf, raw[m.vs:m.ve])
	if !ok {
		return out[:start], [2]int{}
	}
	return out, [2]int{start, len(out)}
}
