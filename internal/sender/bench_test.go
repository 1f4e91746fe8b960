package sender

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkBody measures building one NDJSON request body of 100 events,
// with and without retimestamping.
func BenchmarkBody(b *testing.B) {
	for _, restamp := range []bool{false, true} {
		name := "plain"
		if restamp {
			name = "retimestamp"
		}
		b.Run(name, func(b *testing.B) {
			r, err := newRunner(Options{URL: "http://127.0.0.1:1", Events: Generate(1000, 1), Retimestamp: restamp})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				body, _ := r.body(batch{first: (i * 100) % 1000, n: 100})
				b.SetBytes(int64(len(body)))
			}
		})
	}
}

// BenchmarkRun measures end-to-end sending to an in-process server that
// reads and discards the body; it is the sender's own ceiling, not the
// ingestor's.
func BenchmarkRun(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"status":"queued"}`)
	}))
	defer srv.Close()
	events := Generate(10000, 1)
	b.ReportAllocs()
	var accepted int
	for b.Loop() {
		s, err := Run(context.Background(), Options{URL: srv.URL, APIKey: testKey, Events: events, Retimestamp: true})
		if err != nil || s.Accepted != len(events) {
			b.Fatalf("run: %v, accepted %d", err, s.Accepted)
		}
		accepted += s.Accepted
	}
	b.ReportMetric(float64(accepted)/b.Elapsed().Seconds(), "events/s")
}
