package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// rig is a running receiver feeding a test's own ingest stream.
type rig struct {
	t      *testing.T
	rdb    *redis.Client
	stream string
	recv   *Receiver
	reg    *prometheus.Registry
	feeder *ingest.Feeder
}

func newRig(t *testing.T, opts Options) *rig {
	t.Helper()
	return newRigWith(t, opts, queue.ProducerOptions{}, ingest.FeederOptions{})
}

func newRigWith(t *testing.T, opts Options, po queue.ProducerOptions, fo ingest.FeederOptions) *rig {
	t.Helper()
	rdb, prefix := itest.Redis(t)
	stream := prefix + ":ingest_queue"
	po.MetricsPrefix = prefix + ":metrics"
	producer := queue.NewProducer(rdb, stream, po)
	feeder := ingest.NewFeeder(producer, fo)
	reg := prometheus.NewRegistry()
	recv, err := New(opts, feeder, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: the producer closes after both stop.
	t.Cleanup(func() { _ = producer.Close() })
	itest.RunUntilCleanup(t, feeder.Run, recv.Run)
	return &rig{t: t, rdb: rdb, stream: stream, recv: recv, reg: reg, feeder: feeder}
}

func (r *rig) events(n int) []map[string]any {
	r.t.Helper()
	return itest.StreamEvents(r.t, r.rdb, r.stream, n)
}

// TestLoggerSends sends with util-linux logger over UDP and TCP in both
// formats and checks the events' fields.
func TestLoggerSends(t *testing.T) {
	logger := itest.Tool(t, "logger", "util-linux")
	r := newRig(t, Options{UDPListen: "127.0.0.1:0", TCPListen: "127.0.0.1:0"})
	addrs := r.recv.Addrs()
	cases := []struct{ transport, format, tag string }{
		{"udp", "--rfc5424", "mutt-udp-5424"}, {"udp", "--rfc3164", "mutt-udp-3164"},
		{"tcp", "--rfc5424", "mutt-tcp-5424"}, {"tcp", "--rfc3164", "mutt-tcp-3164"},
	}
	for _, c := range cases {
		host, port, _ := net.SplitHostPort(addrs["syslog-"+c.transport])
		out, err := exec.Command(logger, "--server", host, "--port", port, "--"+c.transport, c.format,
			"-p", "local4.err", "-t", c.tag, "--id=4242", "interface ge-0/0/1 is down via "+c.tag).CombinedOutput()
		if err != nil {
			t.Fatalf("logger %v: %v\n%s", c, err, out)
		}
	}
	evs := r.events(len(cases))
	byTag := map[string]map[string]any{}
	for _, ev := range evs {
		byTag[fmt.Sprint(ev["app_name"])] = ev
	}
	for _, c := range cases {
		ev := byTag[c.tag]
		if ev == nil {
			t.Errorf("%s %s: no event (got %v)", c.transport, c.format, evs)
			continue
		}
		if ev["message"] != "interface ge-0/0/1 is down via "+c.tag || ev["syslog_severity"] != 3.0 || ev["facility"] != 20.0 ||
			ev["procid"] != "4242" || ev["source_type"] != "syslog" || ev["transport"] != c.transport || ev["source_ip"] != "127.0.0.1" {
			t.Errorf("%s %s: event %v", c.transport, c.format, ev)
		}
		if ev["hostname"] == "" || ev["_event_id"] == nil {
			t.Errorf("%s %s: no hostname or _event_id: %v", c.transport, c.format, ev)
		}
		want := map[string]string{"--rfc5424": FormatRFC5424, "--rfc3164": FormatRFC3164}[c.format]
		if ev["syslog_format"] != want {
			t.Errorf("%s: syslog_format = %v, want %s", c.tag, ev["syslog_format"], want)
		}
		if ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(ev["timestamp"])); err != nil || time.Since(ts).Abs() > time.Hour {
			t.Errorf("%s: timestamp %v: %v", c.tag, ev["timestamp"], err)
		}
	}
	itest.Eventually(t, 5*time.Second, "enqueued{udp} = 2", func() bool {
		return testutil.ToFloat64(r.recv.metrics.enqueued.WithLabelValues("udp")) == 2
	})
}

// TestStreamSurvivesBadFrames sends, on one TCP connection, a 64 KiB
// message, an oversized one, a truncated count and garbage, each followed
// by a good message: every good message must arrive and the connection
// must stay open.
func TestStreamSurvivesBadFrames(t *testing.T) {
	r := newRig(t, Options{TCPListen: "127.0.0.1:0", MaxMessageBytes: 80 << 10})
	c, err := net.Dial("tcp", r.recv.Addrs()["syslog-tcp"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	good := func(i int) string { return fmt.Sprintf("<13>Jun 14 11:00:00 h app: good %d\n", i) }
	big := "<13>1 2025-06-14T11:00:00Z h app - - - " + strings.Repeat("x", 64<<10)
	huge := "<13>" + strings.Repeat("y", 100<<10)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d %s", len(big), big)
	b.WriteString(good(1))
	fmt.Fprintf(&b, "%d %s", len(huge), huge) // counted, over the limit: skipped
	b.WriteString(good(2))
	b.WriteString(huge + "\n") // LF-framed, over the limit: skipped
	b.WriteString(good(3))
	b.WriteString("12 <13>short\n") // claims 12 bytes: the frame takes the next message's start
	b.WriteString("\x00\x01\xff garbage without any header\n")
	b.WriteString(good(4))
	b.WriteString("99999999999 not a count\n")
	b.WriteString(good(5))
	if _, err := c.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The feeder flushes batches concurrently, so the entries may land in
	// any order: wait for the ones that must arrive, not for a count.
	var (
		msgs  []string
		found bool
	)
	arrived := func() bool {
		msgs, found = nil, false
		for _, ev := range r.events(1) {
			m := fmt.Sprint(ev["message"])
			found = found || len(m) == 64<<10
			msgs = append(msgs, m[:min(len(m), 40)])
		}
		joined := strings.Join(msgs, "|")
		for i := 1; i <= 5; i++ {
			if !strings.Contains(joined, "good "+strconv.Itoa(i)) {
				return false
			}
		}
		return found
	}
	deadline := time.Now().Add(20 * time.Second)
	for !arrived() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	joined := strings.Join(msgs, "|")
	for i := 1; i <= 5; i++ {
		if !strings.Contains(joined, "good "+strconv.Itoa(i)) {
			t.Errorf("good %d lost; got %q", i, msgs)
		}
	}
	if !found {
		t.Error("the 64 KiB message did not arrive whole")
	}
	if got := testutil.ToFloat64(r.recv.metrics.rejected.WithLabelValues("tcp", reasonTooLarge)); got != 2 {
		t.Errorf("rejected{too_large} = %v, want 2", got)
	}
	// The same connection still works.
	if _, err := c.Write([]byte(good(6))); err != nil {
		t.Fatal(err)
	}
	r.events(len(msgs) + 1)
}

// TestTLSMutual accepts a client with a certificate from the configured
// CA and refuses one without.
func TestTLSMutual(t *testing.T) {
	pki := itest.NewPKI(t)
	r := newRig(t, Options{TLSListen: "127.0.0.1:0", TLS: pki.ServerConfig(true)})
	addr := r.recv.Addrs()["syslog-tls"]
	c, err := tls.Dial("tcp", addr, pki.ClientConfig(true))
	if err != nil {
		t.Fatal(err)
	}
	msg := "<11>1 2025-06-14T11:00:00Z tls-client app - - - over TLS"
	fmt.Fprintf(c, "%d %s", len(msg), msg)
	evs := r.events(1)
	if evs[0]["message"] != "over TLS" || evs[0]["transport"] != "tls" || evs[0]["hostname"] != "tls-client" {
		t.Errorf("event %v", evs[0])
	}
	_ = c.Close()
	if c2, err := tls.Dial("tcp", addr, pki.ClientConfig(false)); err == nil {
		// TLS 1.3 reports a refused client certificate on the first read.
		_, _ = c2.Write([]byte("<11>x\n"))
		_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("a client without a certificate read %v, want a certificate error", err)
		}
		_ = c2.Close()
	}
	itest.Eventually(t, 5*time.Second, "handshake failure counted", func() bool {
		return testutil.ToFloat64(r.recv.metrics.tlsFailures) == 1
	})
}

// FuzzFramer checks that no byte stream panics the framer or makes it
// return a frame over the limit, and that it always ends.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("5 <1>ab<13>x\n"))
	f.Add([]byte("12 <13>short\nnext\n"))
	f.Add([]byte("999999999 <"))
	f.Add([]byte("<13>a\r\n\n\n<13>b"))
	f.Add(bytes.Repeat([]byte("z"), 3000))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := NewFramer(bytes.NewReader(b), 1024)
		for range len(b) + 2 {
			frame, err := fr.Next()
			if err == ErrFrameTooLarge {
				continue
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(frame) > 1024+2 || len(frame) == 0 {
				t.Fatalf("frame of %d bytes", len(frame))
			}
		}
		t.Fatal("the framer did not reach the end of the input")
	})
}

func TestFramer(t *testing.T) {
	in := "17 <13>octet counted<13>lf one\r\n\n5 <1>x\n<13>last without LF"
	fr := NewFramer(strings.NewReader(in), 100)
	var got []string
	for {
		b, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{"<13>octet counted", "<13>lf one", "<1>x\n", "<13>last without LF"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("frames %q, want %q", got, want)
	}
}

// TestTCPBackPressure fills the ingest queue to its cap: the receiver must
// stop reading the connection (the sender's writes block) and lose
// nothing once the cap is raised.
func TestTCPBackPressure(t *testing.T) {
	var limit atomic.Int64
	limit.Store(10)
	r := newRigWith(t, Options{TCPListen: "127.0.0.1:0"},
		queue.ProducerOptions{Limit: limit.Load, MaxBatch: 50}, ingest.FeederOptions{Buffer: 50, MaxBatch: 50, Flushers: 1})
	c, err := net.Dial("tcp", r.recv.Addrs()["syslog-tcp"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetWriteBuffer(32 << 10)
	const n = 20_000
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "<13>Jun 14 11:00:00 h app: message %d %s\n", i, strings.Repeat("p", 40))
	}
	data := b.Bytes()
	// The kernel buffers a few megabytes; past them the writes must stall.
	_ = c.SetWriteDeadline(time.Now().Add(1500 * time.Millisecond))
	written, err := c.Write(data)
	if err == nil {
		t.Fatalf("all %d bytes were taken while the queue was full; nothing held the sender back", len(data))
	}
	if q, _ := r.rdb.XLen(context.Background(), r.stream).Result(); q > 10+50 {
		t.Errorf("the stream grew to %d entries past its cap of 10", q)
	}
	if !r.feeder.Stalled() {
		t.Error("the feeder does not report the stall")
	}
	limit.Store(1 << 40)
	_ = c.SetWriteDeadline(time.Time{})
	if _, err := c.Write(data[written:]); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 60*time.Second, "every message queued once the cap is raised", func() bool {
		q, _ := r.rdb.XLen(context.Background(), r.stream).Result()
		return q == n
	})
	// The counter moves once the producer's XADD has returned, a moment
	// after the entries became visible.
	itest.Eventually(t, 5*time.Second, "enqueued{tcp} counts every message", func() bool {
		return testutil.ToFloat64(r.recv.metrics.enqueued.WithLabelValues("tcp")) == n
	})
}
