package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/sender"
)

const (
	// TargetBatchedEventsPerSecond is the ingest target with 100 events
	// per request.
	TargetBatchedEventsPerSecond = 50_000
	// TargetSingleRequestsPerSecond is the ingest target with one event per
	// request at concurrency 16.
	TargetSingleRequestsPerSecond = 10_000
)

// distinctEvents is how many different events a load run cycles through;
// repeating them keeps memory flat for any number of events.
const distinctEvents = 10_000

// IngestOptions describe an ingest run.
type IngestOptions struct {
	// Batch is the number of events per request; 1 sends one JSON object
	// per request, more send newline-delimited JSON (default 100).
	Batch int
	// Concurrency is the number of requests in flight (default 8).
	Concurrency int
	// Events is the number of events sent in the timed part (default
	// 500,000). It is rounded down to a whole number of passes over the
	// distinct events when larger than their number.
	Events int
	// Seed chooses the generated events (default 1).
	Seed int64
}

func (o *IngestOptions) defaults() {
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Events <= 0 {
		o.Events = 500_000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

// RunIngest runs the ingest API on a loopback port, as the ingestor role
// wires it, and sends it generated events over HTTP with MUTT's own load
// generator in the same process: first one untimed pass over the distinct
// events to open connections and warm up, then the timed run. Every event
// must be accepted.
func (e *Env) RunIngest(ctx context.Context, o IngestOptions) (Result, error) {
	o.defaults()
	id := fmt.Sprintf("ingest-batch%d-c%d", o.Batch, o.Concurrency)
	res := Result{
		ID:          id,
		Kind:        KindIngest,
		Scenario:    fmt.Sprintf("ingest over HTTP, %d event(s) per request, concurrency %d", o.Batch, o.Concurrency),
		BatchSize:   o.Batch,
		Concurrency: o.Concurrency,
		Target:      Target{Metric: MetricEventsPerSecond, Min: TargetBatchedEventsPerSecond},
	}
	if o.Batch == 1 {
		res.Target = Target{Metric: MetricRequestsPerSecond, Min: TargetSingleRequestsPerSecond}
		if o.Concurrency != 16 {
			res.Notes = append(res.Notes, "the single-event target is stated for concurrency 16")
		}
	}
	res.Notes = append(res.Notes, LoadGeneratorNote)
	if err := e.resetKeys(ctx); err != nil {
		return res, err
	}
	defer func() { _ = e.resetKeys(context.WithoutCancel(ctx)) }()

	events := sender.Generate(min(o.Events, distinctEvents), o.Seed)
	repeat := o.Events / len(events)
	warm := len(events)

	cfg := e.cfg
	limit := max(cfg.Ingest.MaxQueueSize, int64(warm+repeat*len(events))+1000)
	url, key, stop, err := e.startIngestor(cfg, func() int64 { return limit })
	if err != nil {
		return res, err
	}
	defer stop()

	rec := &latencyRecorder{}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = o.Concurrency
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: &timingTransport{next: tr, rec: rec}, Timeout: sender.DefaultTimeout}
	send := func(events [][]byte, repeat int) (sender.Summary, error) {
		s, err := sender.Run(ctx, sender.Options{
			URL: url, APIKey: key, Events: events, BatchSize: o.Batch, Concurrency: o.Concurrency,
			Repeat: repeat, MaxRetries: -1, Client: client,
		})
		if err != nil {
			return s, fmt.Errorf("sending events: %w", err)
		}
		if s.Accepted != s.Events {
			return s, fmt.Errorf("the ingestor did not accept every event:\n%s", s)
		}
		return s, nil
	}

	e.say("%s: warming up with %d events", id, warm)
	if _, err := send(events, 1); err != nil {
		return res, err
	}
	rec.reset()
	e.say("%s: sending %d events", id, repeat*len(events))
	m, err := e.startMeasuring(ctx, id)
	if err != nil {
		return res, err
	}
	sum, err := send(events, repeat)
	if err != nil {
		_, _ = m.stopProfile()
		return res, err
	}
	if err := e.finish(ctx, m, &res, int64(sum.Accepted), sum.Elapsed); err != nil {
		return res, err
	}
	res.Requests = int64(sum.Requests)
	res.RequestsPerSecond = float64(sum.Requests) / sum.Elapsed.Seconds()
	lat := rec.sorted()
	res.LatencyP50Millis = millis(percentile(lat, 50))
	res.LatencyP99Millis = millis(percentile(lat, 99))
	if len(lat) > 0 {
		res.LatencyMaxMillis = millis(lat[len(lat)-1])
	}
	res.check()

	queued, err := e.own.XLen(ctx, cfg.Keys.IngestQueue).Result()
	if err != nil {
		return res, fmt.Errorf("measuring the ingest queue: %w", err)
	}
	if want := int64(warm + sum.Accepted); queued != want {
		return res, fmt.Errorf("the ingest queue holds %d events, want %d", queued, want)
	}
	return res, nil
}

// startIngestor serves the ingest API on a loopback port as the ingestor
// role wires it, with a queue cap of limit, and returns its base URL, its
// API key and a function that stops it.
func (e *Env) startIngestor(cfg config.Config, limit func() int64) (url, key string, stop func(), err error) {
	producer := queue.NewProducer(e.rdb, cfg.Keys.IngestQueue, queue.ProducerOptions{
		Limit: limit, MetricsPrefix: cfg.Keys.MetricsPrefix,
	})
	if key, err = randomKey(); err != nil {
		_ = producer.Close()
		return "", "", nil, err
	}
	handler := ingest.NewServer(ingest.Options{
		APIKey: secrets.New(key), MaxBodyBytes: cfg.Ingest.MaxBodyBytes, RequiredFields: cfg.Ingest.RequiredFields,
		Ping:     func(ctx context.Context) error { return e.rdb.Ping(ctx).Err() },
		Settings: func() any { return map[string]any{} },
	}, producer, obs.NewRegistry(), e.logger.With("component", "ingestor"))
	url, stopServer, err := serveLoopback(handler, e.logger)
	if err != nil {
		_ = producer.Close()
		return "", "", nil, err
	}
	return url, key, func() {
		stopServer()
		_ = producer.Close()
	}, nil
}

// serveLoopback serves h on a free loopback port with the ingestor's server
// settings and returns its base URL and a function that stops it.
func serveLoopback(h http.Handler, logger *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listening on a loopback port: %w", err)
	}
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("bench ingest server", "error", err)
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func randomKey() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making an API key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// latencyRecorder keeps every request's latency of a run; a run has at most
// a few hundred thousand requests.
type latencyRecorder struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *latencyRecorder) add(d time.Duration) {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
}

func (r *latencyRecorder) reset() {
	r.mu.Lock()
	r.d = r.d[:0]
	r.mu.Unlock()
}

func (r *latencyRecorder) sorted() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.d)
	slices.Sort(out)
	return out
}

// timingTransport records how long each request takes from being sent to
// its response headers arriving.
type timingTransport struct {
	next http.RoundTripper
	rec  *latencyRecorder
}

func (t *timingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		t.rec.add(time.Since(start))
	}
	return resp, err
}
