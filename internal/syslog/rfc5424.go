package syslog

import (
	"bytes"
	"time"
)

// parse5424 reads b, a whole message starting with its PRI, as RFC 5424
// (section 6). It returns false, leaving the rest to the BSD parser, at
// the first rule broken: header fields are printable ASCII of bounded
// length, the timestamp is RFC 3339 or "-", structured data is "-" or
// well-formed SD-ELEMENTs. It allocates only for structured data.
func parse5424(b []byte, m *Message) bool {
	_, n, ok := parsePRI(b)
	if !ok || len(b) < n+2 || b[n] != '1' || b[n+1] != ' ' {
		return false
	}
	rest := b[n+2:]
	// TIMESTAMP
	tsTok, rest, ok := field(rest, 64)
	if !ok {
		return false
	}
	var ts time.Time
	if !nilValue(tsTok) {
		t, k, ok := parseRFC3339(tsTok)
		if !ok || k != len(tsTok) || !hasZone(tsTok) {
			return false
		}
		ts = t
	}
	var host, app, proc, msgid []byte
	for _, f := range []struct {
		dst *[]byte
		max int
	}{{&host, 255}, {&app, 48}, {&proc, 128}, {&msgid, 32}} {
		var tok []byte
		if tok, rest, ok = field(rest, f.max); !ok {
			return false
		}
		if !nilValue(tok) {
			*f.dst = tok
		}
	}
	// STRUCTURED-DATA, then an optional SP MSG.
	var sd map[string]map[string]string
	switch {
	case len(rest) == 0:
		return false
	case rest[0] == '-':
		rest = rest[1:]
	case rest[0] == '[':
		sd, rest, ok = parseSD(rest)
		if !ok {
			return false
		}
	default:
		return false
	}
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return false
		}
		rest = rest[1:]
	}
	m.Format = FormatRFC5424
	m.Timestamp = ts
	m.Hostname, m.AppName, m.ProcID, m.MsgID = host, app, proc, msgid
	m.StructuredData = sd
	m.Msg = bytes.TrimPrefix(rest, []byte("\xef\xbb\xbf")) // the BOM says UTF-8; it is not text
	return true
}

// field takes a header field of 1 to max printable ASCII characters and
// the space after it.
func field(b []byte, max int) (tok, rest []byte, ok bool) {
	i := 0
	for i < len(b) && b[i] != ' ' {
		if b[i] < 33 || b[i] > 126 || i == max {
			return nil, nil, false
		}
		i++
	}
	if i == 0 || i == len(b) {
		return nil, nil, false
	}
	return b[:i], b[i+1:], true
}

func nilValue(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// hasZone reports whether an RFC 3339 timestamp ends with Z or an offset,
// which RFC 5424 requires.
func hasZone(b []byte) bool {
	c := b[len(b)-1]
	return c == 'Z' || c == 'z' || (len(b) > 6 && (b[len(b)-6] == '+' || b[len(b)-6] == '-'))
}

// parseSD reads one or more SD-ELEMENTs: [SD-ID *(SP NAME="VALUE")].
func parseSD(b []byte) (map[string]map[string]string, []byte, bool) {
	sd := map[string]map[string]string{}
	for len(b) > 0 && b[0] == '[' {
		b = b[1:]
		id, n := sdName(b)
		if n == 0 {
			return nil, nil, false
		}
		b = b[n:]
		params := sd[string(id)]
		if params == nil {
			params = map[string]string{}
			sd[string(id)] = params
		}
		for {
			if len(b) == 0 {
				return nil, nil, false
			}
			if b[0] == ']' {
				b = b[1:]
				break
			}
			if b[0] != ' ' {
				return nil, nil, false
			}
			name, n := sdName(b[1:])
			if n == 0 || len(b) < n+3 || b[1+n] != '=' || b[2+n] != '"' {
				return nil, nil, false
			}
			b = b[n+3:]
			val, k, ok := sdValue(b)
			if !ok {
				return nil, nil, false
			}
			params[string(name)] = val
			b = b[k:]
		}
	}
	return sd, b, true
}

// sdName reads an SD-NAME: 1 to 32 printable ASCII except '=', SP, ']'
// and '"'.
func sdName(b []byte) ([]byte, int) {
	i := 0
	for i < len(b) && i < 32 {
		c := b[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			break
		}
		i++
	}
	return b[:i], i
}

// sdValue reads a PARAM-VALUE up to its closing quote, unescaping \" \\
// and \]; it returns the bytes taken, the quote included.
func sdValue(b []byte) (string, int, bool) {
	var buf []byte
	start := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			if i+1 < len(b) && (b[i+1] == '"' || b[i+1] == '\\' || b[i+1] == ']') {
				buf = append(buf, b[start:i]...)
				start = i + 1
				i++
			}
		case '"':
			if buf == nil {
				return string(b[:i]), i + 1, true
			}
			return string(append(buf, b[start:i]...)), i + 1, true
		}
	}
	return "", 0, false
}
