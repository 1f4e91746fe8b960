package syslog

import "bytes"

// maxPayloadFields bounds the key=value pairs or CSV fields kept.
const maxPayloadFields = 256

// detectPayload fills KV for key=value payloads (Fortinet, many
// firewalls) and CSV for comma-separated ones (Palo Alto), and takes the
// host and time a Fortinet payload carries when the header had none.
func detectPayload(m *Message) {
	msg := m.Msg
	if len(msg) == 0 {
		return
	}
	if looksKV(msg) {
		m.KV = parseKV(msg, m.KV[:0])
		var date, clock, tz []byte
		for _, kv := range m.KV {
			switch string(kv[0]) {
			case "devname":
				if m.Hostname == nil && len(kv[1]) > 0 {
					m.Hostname = kv[1]
				}
			case "date":
				date = kv[1]
			case "time":
				clock = kv[1]
			case "tz":
				tz = kv[1]
			}
		}
		if m.Timestamp.IsZero() && len(date) == 10 && len(clock) >= 8 && len(clock) <= 20 {
			var buf [48]byte
			s := append(append(append(buf[:0], date...), 'T'), clock...)
			if len(tz) >= 5 && len(tz) <= 6 && (tz[0] == '+' || tz[0] == '-') {
				s = append(s, tz...)
			}
			if t, n, ok := parseRFC3339(s); ok && n == len(s) {
				m.Timestamp = t
			}
		}
		return
	}
	// Palo Alto: "1,2025/01/15 14:30:22,012801012345,TRAFFIC,end,...".
	if n := digitRun(msg); n > 0 && n < len(msg) && msg[n] == ',' && bytes.Count(msg, []byte{','}) >= 5 {
		m.CSV = parseCSV(msg, m.CSV[:0])
	}
}

// looksKV is true when the payload starts with at least two key=value
// pairs.
func looksKV(b []byte) bool {
	pairs := 0
	for pairs < 2 {
		tok, rest := token(b)
		i := bytes.IndexByte(tok, '=')
		if i < 1 || !isTagName(tok[:i]) {
			return false
		}
		pairs++
		if len(rest) == 0 {
			break
		}
		// Skip a quoted value that holds spaces.
		if i+1 < len(tok) && tok[i+1] == '"' && (len(tok) < i+3 || tok[len(tok)-1] != '"') {
			end := bytes.IndexByte(rest, '"')
			if end < 0 {
				return false
			}
			rest = rest[end+1:]
		}
		b = skipSpaces(rest)
	}
	return pairs >= 2
}

// parseKV reads key=value pairs separated by spaces; values may be
// double-quoted (with spaces inside) and are stored without the quotes.
func parseKV(b []byte, dst [][2][]byte) [][2][]byte {
	for len(b) > 0 && len(dst) < maxPayloadFields {
		b = skipSpaces(b)
		eq := bytes.IndexByte(b, '=')
		if eq < 1 {
			break
		}
		key := b[:eq]
		if bytes.IndexByte(key, ' ') >= 0 {
			break
		}
		b = b[eq+1:]
		var val []byte
		if len(b) > 0 && b[0] == '"' {
			end := bytes.IndexByte(b[1:], '"')
			if end < 0 {
				val, b = b[1:], nil
			} else {
				val, b = b[1:1+end], b[2+end:]
			}
		} else {
			val, b = token(b)
		}
		dst = append(dst, [2][]byte{key, val})
	}
	return dst
}

// parseCSV splits on commas; a field in double quotes may hold commas and
// doubled quotes are left as they are.
func parseCSV(b []byte, dst [][]byte) [][]byte {
	for len(dst) < maxPayloadFields {
		if len(b) > 0 && b[0] == '"' {
			end := bytes.IndexByte(b[1:], '"')
			if end >= 0 && (2+end == len(b) || b[2+end] == ',') {
				dst = append(dst, b[1:1+end])
				if 2+end == len(b) {
					return dst
				}
				b = b[3+end:]
				continue
			}
		}
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			return append(dst, b)
		}
		dst = append(dst, b[:i])
		b = b[i+1:]
	}
	return dst
}
