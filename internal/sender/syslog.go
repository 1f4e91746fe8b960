package sender

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"
)

// Syslog formats.
const (
	FormatRFC5424 = "rfc5424"
	FormatRFC3164 = "rfc3164"
)

// SyslogOptions configure SendSyslog.
type SyslogOptions struct {
	// URL is udp://host:port, tcp://host:port or tls://host:port.
	URL string
	// Format is FormatRFC5424 (default) or FormatRFC3164.
	Format string
	// TLS configures tls:// (nil: the system roots).
	TLS *tls.Config
	// Events are the event objects to send, one message each.
	Events [][]byte
	// Repeat sends the set this many times (default 1).
	Repeat int
	// Rate is messages per second; 0 sends as fast as possible.
	Rate float64
	// Facility is the syslog facility of every message (default 16, local0).
	Facility int
	// AppName is the APP-NAME/TAG (default mutt-send).
	AppName string
}

// SendSyslog sends every event as one syslog message: over UDP one
// datagram each, over TCP and TLS octet-counted frames (RFC 6587) on one
// connection. Severity comes from the event's syslog_severity (or
// severity name), the host from its hostname.
func SendSyslog(ctx context.Context, opts SyslogOptions) (NativeSummary, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || u.Host == "" || (u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "tls") {
		return NativeSummary{}, fmt.Errorf("--syslog must be udp://host:port, tcp://host:port or tls://host:port, got %q", opts.URL)
	}
	if opts.Format == "" {
		opts.Format = FormatRFC5424
	}
	if opts.Format != FormatRFC5424 && opts.Format != FormatRFC3164 {
		return NativeSummary{}, fmt.Errorf("unknown syslog format %q", opts.Format)
	}
	if opts.Repeat <= 0 {
		opts.Repeat = 1
	}
	if opts.Facility == 0 {
		opts.Facility = 16
	}
	if opts.AppName == "" {
		opts.AppName = "mutt-send"
	}
	var d net.Dialer
	var conn net.Conn
	switch u.Scheme {
	case "tls":
		td := tls.Dialer{NetDialer: &d, Config: opts.TLS}
		conn, err = td.DialContext(ctx, "tcp", u.Host)
	default:
		conn, err = d.DialContext(ctx, u.Scheme, u.Host)
	}
	if err != nil {
		return NativeSummary{}, fmt.Errorf("connecting to %s: %w", opts.URL, err)
	}
	defer conn.Close()
	stream := u.Scheme != "udp"
	w := bufio.NewWriterSize(conn, 64<<10)
	sum := NativeSummary{Messages: len(opts.Events) * opts.Repeat}
	start := time.Now()
	p := pacer{start: start, rate: opts.Rate}
	host, _ := os.Hostname()
	pid := strconv.Itoa(os.Getpid())
	var line []byte
	i := 0
	for range opts.Repeat {
		for _, raw := range opts.Events {
			if err := p.wait(ctx, i); err != nil {
				sum.Elapsed = time.Since(start)
				return sum, err
			}
			i++
			ev, err := readEvent(raw)
			if err != nil {
				sum.fail(err)
				continue
			}
			if ev.Hostname == "" {
				ev.Hostname = host
			}
			line = appendSyslog(line[:0], opts, ev, time.Now(), pid)
			if stream {
				_, _ = w.WriteString(strconv.Itoa(len(line)))
				_ = w.WriteByte(' ')
				_, err = w.Write(line)
				if opts.Rate > 0 {
					err = w.Flush()
				}
			} else {
				_, err = conn.Write(line)
			}
			if err != nil {
				sum.fail(err)
				continue
			}
			sum.Sent++
		}
	}
	if err := w.Flush(); err != nil {
		sum.fail(err)
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

func appendSyslog(b []byte, opts SyslogOptions, ev nativeEvent, now time.Time, pid string) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(opts.Facility*8+ev.severity()), 10)
	b = append(b, '>')
	if opts.Format == FormatRFC5424 {
		b = append(b, "1 "...)
		b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		b = append(b, ' ')
		b = append(b, token(ev.Hostname, 255)...)
		b = append(b, ' ')
		b = append(b, token(opts.AppName, 48)...)
		b = append(b, ' ')
		b = append(b, pid...)
		b = append(b, " - - "...)
	} else {
		b = now.AppendFormat(b, time.Stamp)
		b = append(b, ' ')
		b = append(b, token(ev.Hostname, 255)...)
		b = append(b, ' ')
		b = append(b, token(opts.AppName, 32)...)
		b = append(b, '[')
		b = append(b, pid...)
		b = append(b, "]: "...)
	}
	return append(b, ev.Message...)
}

// token makes s usable as a header field: printable, no spaces, bounded.
func token(s string, max int) string {
	out := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(out) < max; i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return string(out)
}

// FormatSyslog renders one event object as a syslog message (no framing)
// the way SendSyslog does, for load generators that send prepared bytes.
func FormatSyslog(format string, raw []byte, now time.Time) ([]byte, error) {
	ev, err := readEvent(raw)
	if err != nil {
		return nil, err
	}
	if ev.Hostname == "" {
		ev.Hostname = "-"
	}
	return appendSyslog(nil, SyslogOptions{Format: format, Facility: 16, AppName: "mutt-bench"}, ev, now, "1"), nil
}
