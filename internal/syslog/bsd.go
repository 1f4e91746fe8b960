package syslog

import (
	"bytes"
	"time"
)

// parseBSD reads everything after the PRI of a message that is not RFC
// 5424: RFC 3164 ("Mmm dd hh:mm:ss host tag: msg") and what devices make
// of it. It never fails: what it cannot place is MSG.
//
// The order of the header is flexible on purpose:
//
//	[seq:] [host:] [*|.]timestamp[:] [host[ :]] [tag[pid]:] msg
//
// Cisco IOS puts a sequence number and possibly its host before the
// timestamp; Cisco ASA/FTD add the year and leave out the host; haproxy
// and many Linux programs leave out the host; RFC 3339 timestamps replace
// the BSD ones when rsyslog forwards with its modern templates.
func parseBSD(b []byte, now time.Time, m *Message) {
	m.Format = FormatRFC3164
	b = skipSpaces(b)
	// Cisco sequence number "000123: ".
	if n := digitRun(b); n > 0 && n < len(b)-1 && b[n] == ':' && b[n+1] == ' ' {
		m.Sequence = b[:n]
		b = skipSpaces(b[n+1:])
	}
	ts, n, ok := parseTimestamp(b, now)
	if !ok {
		// Cisco "logging origin-id": "router1: *Mar  1 ...".
		if tok, rest := token(b); len(tok) > 1 && tok[len(tok)-1] == ':' && bytes.IndexByte(tok, '=') < 0 {
			if ts2, n2, ok2 := parseTimestamp(skipSpaces(rest), now); ok2 {
				m.Hostname = tok[:len(tok)-1]
				b = skipSpaces(rest)
				ts, n, ok = ts2, n2, ok2
			}
		}
	}
	if ok {
		m.Timestamp = ts
		b = b[n:]
		if len(b) > 0 && b[0] == ':' {
			// "...:11.123: %SYS-5-..." — nothing but MSG follows.
			b = skipSpaces(b[1:])
			parseTag(b, m)
			return
		}
		b = skipSpaces(b)
		if m.Hostname == nil {
			b = parseHost(b, m)
		}
		// Cisco IOS behind a relay, or with "service sequence-numbers" after
		// the host: "edge-rtr-01 789: Jun 14 10:05:07.456 UTC: %SEC-...".
		if n := digitRun(b); n > 0 && n < len(b)-1 && b[n] == ':' && b[n+1] == ' ' && m.Sequence == nil {
			m.Sequence = b[:n]
			b = skipSpaces(b[n+1:])
			if ts2, n2, ok2 := parseTimestamp(b, now); ok2 {
				if len(b) > n2 && b[n2] == ':' {
					m.Timestamp, b = ts2, skipSpaces(b[n2+1:])
				}
			}
		}
	}
	// Without a timestamp there is no header to find a host in (RFC 3164
	// section 4.3.3): the whole text is the message.
	parseTag(b, m)
}

// parseHost takes the hostname when the next token is one, and returns
// what follows it.
func parseHost(b []byte, m *Message) []byte {
	tok, rest := token(b)
	if len(tok) == 0 || !isHostname(tok) {
		return b
	}
	// A lone token followed by nothing is the message, not a host.
	if len(rest) == 0 {
		return b
	}
	m.Hostname = tok
	rest = skipSpaces(rest)
	// ASA with a host: "fw01 : %ASA-6-...".
	if len(rest) > 1 && rest[0] == ':' && rest[1] == ' ' {
		rest = skipSpaces(rest[1:])
	}
	return rest
}

// isHostname accepts the characters of host names and IP addresses, and
// rejects tokens that are a tag ("sshd[12]:", "kernel:"), a Cisco message
// ("%LINK-3-UPDOWN:"), a key=value pair or CSV.
func isHostname(tok []byte) bool {
	if tok[len(tok)-1] == ':' && bytes.Count(tok, []byte{':'}) == 1 {
		return false
	}
	for _, c := range tok {
		ok := c == '.' || c == '-' || c == '_' || c == ':' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
		if !ok {
			return false
		}
	}
	return true
}

// parseTag takes "app[pid]: " or "app: " when present, notes the message
// id of Cisco ("%FAC-SEV-MNEMONIC:") and Juniper ("UI_COMMIT:") messages,
// and stores the rest as MSG.
func parseTag(b []byte, m *Message) {
	if tok, rest := token(b); len(tok) > 1 && tok[len(tok)-1] == ':' && tok[0] != '%' {
		name := tok[:len(tok)-1]
		var pid []byte
		if i := bytes.IndexByte(name, '['); i > 0 && name[len(name)-1] == ']' {
			name, pid = name[:i], name[i+1:len(name)-1]
		}
		if isTagName(name) && len(name) <= 48 {
			m.AppName, m.ProcID = name, pid
			b = skipSpaces(rest)
		}
	}
	m.Msg = b
	if len(b) > 1 && b[0] == '%' {
		if tok, _ := token(b[1:]); len(tok) > 1 && tok[len(tok)-1] == ':' && bytes.Count(tok, []byte{'-'}) >= 2 {
			m.MsgID = tok[:len(tok)-1]
		}
	} else if tok, _ := token(b); len(tok) > 2 && tok[len(tok)-1] == ':' && isJuniperID(tok[:len(tok)-1]) {
		m.MsgID = tok[:len(tok)-1]
	}
	detectPayload(m)
}

func isTagName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		ok := c == '.' || c == '-' || c == '_' || c == '/' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
		if !ok {
			return false
		}
	}
	return true
}

// isJuniperID matches Junos event ids such as UI_COMMIT or SNMP_TRAP_LINK_DOWN.
func isJuniperID(b []byte) bool {
	if bytes.IndexByte(b, '_') < 0 {
		return false
	}
	for _, c := range b {
		if !(c == '_' || isDigit(c) || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

func skipSpaces(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return b[i:]
}

// token splits b at the first space.
func token(b []byte) (tok, rest []byte) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i:]
	}
	return b, nil
}

func digitRun(b []byte) int {
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
