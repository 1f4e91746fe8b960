package syslog

import (
	"slices"
	"time"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/ingest"
)

// Formats a message was recognised as.
const (
	FormatRFC5424 = "rfc5424"
	FormatRFC3164 = "rfc3164"
)

// NoPriority is Message.Priority when the message had no PRI part; the
// facility and severity are then RFC 3164's defaults, user and notice.
const NoPriority = -1

// Message is one parsed syslog message. Its byte fields point into the
// input given to Parse and are valid only as long as that input.
type Message struct {
	Format   string
	Priority int // 0-191, or NoPriority
	Facility int
	Severity int
	// Timestamp is the header's time in UTC; the zero Time when the
	// message had none.
	Timestamp time.Time
	Hostname  []byte
	AppName   []byte
	ProcID    []byte
	MsgID     []byte
	// Sequence is a Cisco sequence number ("000123").
	Sequence []byte
	// StructuredData holds RFC 5424 SD-ELEMENTs by SD-ID.
	StructuredData map[string]map[string]string
	// Msg is the MSG part.
	Msg []byte
	// KV holds key=value pairs of a key=value payload (Fortinet and the
	// like) in their order; CSV the fields of a comma-separated payload
	// (Palo Alto).
	KV  [][2][]byte
	CSV [][]byte
}

func (m *Message) reset() {
	kv, csv := m.KV[:0], m.CSV[:0]
	*m = Message{KV: kv, CSV: csv}
}

// Peer describes where a message came from.
type Peer struct {
	// IP is the sender's address, used as hostname when the header has none.
	IP string
	// Transport is udp, tcp or tls.
	Transport string
}

// AppendEvent writes m as one ingest event object into o (which it resets)
// and returns the JSON. received stands in for a missing timestamp.
func AppendEvent(o *ingest.Object, m *Message, peer Peer, received time.Time) []byte {
	o.Reset()
	if usableHost(m.Hostname) {
		o.Bytes("hostname", m.Hostname)
	} else {
		o.String("hostname", peer.IP)
	}
	ts := m.Timestamp
	if ts.Year() < 1970 || ts.Year() > 9999 {
		// Absent, or outside what the ingest validation accepts.
		ts = received
	}
	var tb [40]byte
	o.Raw("timestamp", appendQuotedTime(tb[:0], ts.UTC()))
	o.Bytes("message", m.Msg)
	o.Int("syslog_severity", int64(m.Severity))
	o.Int("facility", int64(m.Facility))
	o.Bytes("app_name", m.AppName)
	o.Bytes("procid", m.ProcID)
	o.Bytes("msgid", m.MsgID)
	o.Bytes("sequence", m.Sequence)
	if len(m.StructuredData) > 0 {
		o.Raw("structured_data", appendSD(nil, m.StructuredData))
	}
	switch {
	case len(m.KV) > 0:
		o.String("payload_format", "kv")
		b := []byte{'{'}
		for i, kv := range m.KV {
			if i > 0 {
				b = append(b, ',')
			}
			b = event.AppendText(b, kv[0])
			b = append(b, ':')
			b = event.AppendText(b, kv[1])
		}
		o.Raw("fields", append(b, '}'))
	case len(m.CSV) > 0:
		o.String("payload_format", "csv")
		b := []byte{'['}
		for i, f := range m.CSV {
			if i > 0 {
				b = append(b, ',')
			}
			b = event.AppendText(b, f)
		}
		o.Raw("fields", append(b, ']'))
	}
	o.String("syslog_format", m.Format)
	o.String("source_ip", peer.IP)
	o.String("transport", peer.Transport)
	o.String("source_type", "syslog")
	return o.JSON()
}

// usableHost accepts a header hostname of 1 to 255 bytes without control
// characters or spaces; anything else gives way to the peer's address.
func usableHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func appendQuotedTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendSD writes structured data as a JSON object of objects, keys
// sorted so the output is stable.
func appendSD(b []byte, sd map[string]map[string]string) []byte {
	ids := make([]string, 0, len(sd))
	for id := range sd {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendText(b, id)
		b = append(b, ':', '{')
		params := make([]string, 0, len(sd[id]))
		for k := range sd[id] {
			params = append(params, k)
		}
		slices.Sort(params)
		for j, k := range params {
			if j > 0 {
				b = append(b, ',')
			}
			b = event.AppendText(b, k)
			b = append(b, ':')
			b = event.AppendText(b, sd[id][k])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}
