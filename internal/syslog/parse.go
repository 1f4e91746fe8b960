package syslog

import (
	"bytes"
	"errors"
	"time"
)

// ErrEmpty is returned by Parse for a message with nothing but white space.
var ErrEmpty = errors.New("empty syslog message")

// Parser parses syslog messages of any supported format. It is not safe
// for concurrent use; each receiving goroutine owns one.
type Parser struct {
	msg Message
}

// NewParser returns a Parser.
func NewParser() *Parser { return &Parser{} }

// Parse reads one message (without its framing). now resolves year-less
// timestamps to the nearest past. The result is valid until the next call
// and points into b. A message that is not RFC 5424 is read as RFC 3164
// with the vendor variants; the only error is ErrEmpty.
func (p *Parser) Parse(b []byte, now time.Time) (*Message, error) {
	b = bytes.TrimRight(b, "\r\n\x00")
	b = bytes.TrimLeft(b, " \t\r\n\x00")
	if len(b) == 0 {
		return nil, ErrEmpty
	}
	m := &p.msg
	m.reset()
	m.Priority = NoPriority
	m.Facility, m.Severity = 1, 5
	rest := b
	if pri, n, ok := parsePRI(b); ok {
		m.Priority, m.Facility, m.Severity = pri, pri>>3, pri&7
		rest = b[n:]
		if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' && parse5424(b, m) {
			if len(m.Msg) == 0 {
				// A message with structured data alone still says
				// something; keep the whole line as its text.
				m.Msg = b
			}
			detectPayload(m)
			return m, nil
		}
	}
	parseBSD(rest, now, m)
	return m, nil
}

// parsePRI reads "<N>" with N from 0 to 191 and at most three digits.
func parsePRI(b []byte) (pri, n int, ok bool) {
	if len(b) < 3 || b[0] != '<' {
		return 0, 0, false
	}
	i := 1
	for ; i < len(b) && i <= 4 && isDigit(b[i]); i++ {
		pri = pri*10 + int(b[i]-'0')
	}
	if i == 1 || i > 4 || i >= len(b) || b[i] != '>' || pri > 191 || (b[1] == '0' && i > 2) {
		return 0, 0, false
	}
	return pri, i + 1, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
