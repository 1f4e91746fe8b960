package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/sender"
	"github.com/mutt-go/mutt/internal/store"
)

// TargetE2ELatencyP99Millis is the end-to-end target: 99 % of alerts reach
// Moogsoft within this many milliseconds of their event being sent.
const TargetE2ELatencyP99Millis = 50

// The members the end-to-end run adds to each event. They are ordinary
// members, so the ingestor keeps them and the alert carries them in
// raw_json, which the forwarder sends as custom_info.
const (
	seqKey  = `"bench_seq":`
	sentKey = `"bench_sent_ns":`
)

// E2EOptions describe an end-to-end latency run.
type E2EOptions struct {
	// Rate is the events per second sent, one event per request, paced by
	// the clock (default 2,000).
	Rate float64
	// Seconds is the length of the timed part (default 20).
	Seconds float64
	// Warmup is how many seconds of the same traffic go first, untimed
	// (default 2).
	Warmup float64
	// Rules is the size of the rule set (default 50; see RuleSet).
	Rules int
	// AlerterBlock, AlerterBatchSize, ForwarderBlock and ForwarderBatchSize
	// override the settings MUTT ships with when positive; MoogRateLimit
	// sets the shared Moogsoft rate limit (default 0, no limit).
	AlerterBlock       time.Duration
	AlerterBatchSize   int
	ForwarderBlock     time.Duration
	ForwarderBatchSize int
	MoogRateLimit      int
	// Seed chooses the generated events (default 1).
	Seed int64
}

func (o *E2EOptions) defaults() {
	if o.Rate <= 0 {
		o.Rate = 2000
	}
	if o.Seconds <= 0 {
		o.Seconds = 20
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = 2
	}
	if o.Rules <= 0 {
		o.Rules = 50
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

// RunE2E runs the ingestor, the alerter and a forwarder in this process,
// wired as `mutt serve` wires them, with the settings MUTT ships with, and
// a fake Moogsoft behind a net/http server on a loopback port. It sends
// generated events to the ingestor at a fixed rate, one event per request,
// each request leaving at its scheduled time whether or not earlier ones
// were answered (an open loop). Each event carries its sequence number and
// send time as members of its own; the fake's handler reads them back from
// the alert's custom_info on receipt. The latency of an alert is from its
// event's send time to that receipt. The rules tell in advance which events
// are forwarded, and the run ends when the fake has every one of them.
//
// Alongside, the run notes when each alert passed the alerter's audit
// insert, the alert queue and the forwarder, so the report breaks the
// latency down by stage.
func (e *Env) RunE2E(ctx context.Context, o E2EOptions) (Result, error) {
	o.defaults()
	cfg := e.cfg
	// The timings are the point of this run: the blocks and shedding as
	// given, not the harness's shorter blocks and shedding off.
	cfg.Alerter.Block = e.shipped.Alerter.Block
	cfg.Alerter.Shedding = e.shipped.Alerter.Shedding
	cfg.Forwarder.Block = e.shipped.Forwarder.Block
	if o.AlerterBlock > 0 {
		cfg.Alerter.Block = o.AlerterBlock
	}
	if o.AlerterBatchSize > 0 {
		cfg.Alerter.BatchSize = o.AlerterBatchSize
	}
	if o.ForwarderBlock > 0 {
		cfg.Forwarder.Block = o.ForwarderBlock
	}
	if o.ForwarderBatchSize > 0 {
		cfg.Forwarder.BatchSize = o.ForwarderBatchSize
	}
	cfg.Forwarder.RateLimit = max(o.MoogRateLimit, 0)
	timed := int(o.Rate * o.Seconds)
	warm := int(o.Rate * o.Warmup)
	total := warm + timed
	if timed <= 0 {
		return Result{}, errors.New("end-to-end run: rate × seconds must be at least one event")
	}

	id := fmt.Sprintf("e2e-rate%.0f", o.Rate)
	res := Result{
		ID: id, Kind: KindE2E,
		Scenario: fmt.Sprintf("end to end at %s events/s for %.0f s (after %.0f s warm-up): HTTP ingest → alerter (%d rules, audit) → forwarder → fake Moogsoft",
			group(o.Rate), o.Seconds, o.Warmup, o.Rules),
		Rules: o.Rules, Workers: cfg.Alerter.Workers, AlerterBatch: cfg.Alerter.BatchSize,
		ForwarderBatch: cfg.Forwarder.BatchSize, BatchSize: 1, OfferedRate: o.Rate,
		Target: Target{Metric: MetricLatencyP99, Max: TargetE2ELatencyP99Millis},
	}
	res.Notes = append(res.Notes,
		fmt.Sprintf("settings: alerter %d workers, batch %d, block %s; forwarder %d workers, batch %d, block %s, %d requests in flight per worker, breaker %s, Moogsoft rate limit %s",
			cfg.Alerter.Workers, cfg.Alerter.BatchSize, cfg.Alerter.Block, cfg.Forwarder.Workers, cfg.Forwarder.BatchSize,
			cfg.Forwarder.Block, cfg.Forwarder.Concurrency, onOff(cfg.Forwarder.BreakerEnabled), rateLimitText(cfg.Forwarder.RateLimit)),
		"the sender, the ingestor, the alerter, the forwarder and the fake Moogsoft share one process and the CPUs with Redis and PostgreSQL")
	if tuned := o.tuned(); tuned != "" {
		res.ID += "-tuned"
		res.Scenario += ", TUNED: " + tuned
	}
	if err := e.resetKeys(ctx); err != nil {
		return res, err
	}
	defer func() { _ = e.resetKeys(context.WithoutCancel(ctx)) }()
	st, snap, err := e.prepareRules(ctx, RuleSet(o.Rules))
	if err != nil {
		return res, err
	}
	tr, err := newTraffic(total, o.Seed, snap, cfg.Ingest.RequiredFields)
	if err != nil {
		return res, err
	}

	// Ingestor.
	ingestURL, apiKey, stopIngest, err := e.startIngestor(cfg, func() int64 { return cfg.Ingest.MaxQueueSize })
	if err != nil {
		return res, err
	}
	defer stopIngest()
	// Fake Moogsoft, through a handler that notes each alert's receipt.
	moog, err := startFakeMoog(0, func(f *fakemoog.Server) http.Handler { return &receiptHandler{next: f, tr: tr} }, e.logger)
	if err != nil {
		return res, err
	}
	defer moog.stop()

	reg := obs.NewRegistry()
	a := alerter.New(app.AlerterOptions(cfg), app.NewAlerterRedisBackend(cfg, e.rdb), st, &auditTimer{next: st, tr: tr}, nil, reg, e.logger.With("component", "alerter"))
	fwdLogger := e.logger.With("component", "forwarder")
	f, webhook, err := newForwarder(cfg, e.rdb, moog, reg, fwdLogger, func(s forward.Sender) forward.Sender {
		return &pickupTimer{next: s, tr: tr}
	})
	if err != nil {
		return res, err
	}
	defer func() { _ = webhook.Close() }()

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	wg.Go(func() {
		if err := a.Run(runCtx); err != nil && runCtx.Err() == nil {
			e.logger.Error("alerter stopped", "error", err)
		}
	})
	wg.Go(func() {
		if err := f.Run(runCtx); err != nil && runCtx.Err() == nil {
			fwdLogger.Error("forwarder stopped", "error", err)
		}
	})
	if err := waitFor(ctx, "the alerter to load its rules", func() (int64, bool, error) { return 0, a.Ready(), nil }); err != nil {
		return res, err
	}

	e.say("%s: sending %d events at %s events/s (%d warm-up)", id, total, group(o.Rate), warm)
	var (
		m       *measurement
		mErr    error
		started = make(chan struct{})
	)
	send := &openLoop{
		url: ingestURL, key: apiKey, rate: o.Rate, tr: tr, total: total, timedFrom: warm,
		// Reading the counters takes a few Redis calls; the schedule does
		// not wait for them.
		onTimed: func() {
			go func() {
				m, mErr = e.startMeasuring(ctx, id)
				close(started)
			}()
		},
	}
	sum, err := send.run(ctx)
	if sum.timed {
		<-started
	}
	if err == nil && mErr != nil {
		err = mErr
	}
	if err == nil {
		err = sum.err()
	}
	if err == nil {
		e.say("%s: waiting for the last alerts", id)
		err = waitFor(ctx, "the fake Moogsoft to receive every forwarded alert", func() (int64, bool, error) {
			n := tr.gotExpected.Load()
			return n, n >= tr.expected, nil
		})
	}
	if err == nil {
		// Events the rules do not forward may still be in the alerter's
		// last batch; the audit count below needs it committed.
		err = waitFor(ctx, "the alerter to commit its last batch", func() (int64, bool, error) {
			n, err := e.own.XLen(ctx, cfg.Keys.IngestQueue).Result()
			return -n, n == 0, err
		})
	}
	if err != nil {
		if m != nil {
			_, _ = m.stopProfile()
		}
		return res, err
	}
	sendTime := sum.timedSeconds
	if err := e.finish(ctx, m, &res, int64(timed), time.Duration(sendTime*float64(time.Second))); err != nil {
		return res, err
	}
	res.Requests = int64(timed)
	res.RequestsPerSecond = res.EventsPerSecond
	res.SendLagMaxMillis = millis(sum.maxLag)
	tr.fill(&res, warm)
	res.Duplicates = int64(moog.fake.Duplicates())
	res.check()

	var handled int64
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM event_audit_log").Scan(&handled); err != nil {
		return res, fmt.Errorf("counting audit rows: %w", err)
	}
	if handled != tr.handled {
		return res, fmt.Errorf("the alerter wrote %d audit rows, want %d", handled, tr.handled)
	}
	res.Handled, res.Unhandled = tr.handled, int64(total)-tr.handled
	res.Notes = append(res.Notes, fmt.Sprintf("the rules forward %.1f %% of the events (%d of %d, warm-up included), audit %.1f %%",
		100*float64(tr.expected)/float64(total), tr.expected, total, 100*float64(tr.handled)/float64(total)))
	return res, nil
}

func (o E2EOptions) tuned() string {
	var parts []string
	if o.AlerterBlock > 0 {
		parts = append(parts, "alerter block "+o.AlerterBlock.String())
	}
	if o.AlerterBatchSize > 0 {
		parts = append(parts, "alerter batch "+strconv.Itoa(o.AlerterBatchSize))
	}
	if o.ForwarderBlock > 0 {
		parts = append(parts, "forwarder block "+o.ForwarderBlock.String())
	}
	if o.ForwarderBatchSize > 0 {
		parts = append(parts, "forwarder batch "+strconv.Itoa(o.ForwarderBatchSize))
	}
	if o.MoogRateLimit > 0 {
		parts = append(parts, "Moogsoft rate limit "+strconv.Itoa(o.MoogRateLimit)+"/s")
	}
	return strings.Join(parts, ", ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func rateLimitText(n int) string {
	if n <= 0 {
		return "off"
	}
	return strconv.Itoa(n) + "/s"
}

// traffic is what an end-to-end run sends and what became of each event,
// indexed by sequence number. Times are Unix nanoseconds, 0 until known;
// every slot is written by one goroutine at a time or by compare-and-swap.
type traffic struct {
	distinct [][]byte // generated events without their closing brace
	forward  []bool   // per distinct event: the rules forward it
	handle   []bool   // per distinct event: a rule matches it
	expected int64    // forwarded events among all sent
	handled  int64    // handled events among all sent

	sent      []atomic.Int64 // the event left the sender
	answered  []atomic.Int64 // the ingestor answered its request
	auditFrom []atomic.Int64 // the alerter's audit insert of its batch started
	auditTo   []atomic.Int64 // … and finished
	picked    []atomic.Int64 // the forwarder passed its alert to the sender chain
	received  []atomic.Int64 // the fake Moogsoft received its alert

	gotExpected atomic.Int64 // forwarded events whose alert has been received
	metaAlerts  atomic.Int64 // alerts received for unhandled events
}

// newTraffic prepares n events cycling over the generated ones and works
// out what the rules make of each.
func newTraffic(n int, seed int64, snap *rules.Snapshot, required []string) (*traffic, error) {
	raw := sender.Generate(min(n, distinctEvents), seed)
	t := &traffic{
		distinct: make([][]byte, len(raw)), forward: make([]bool, len(raw)), handle: make([]bool, len(raw)),
		sent: make([]atomic.Int64, n), answered: make([]atomic.Int64, n), auditFrom: make([]atomic.Int64, n),
		auditTo: make([]atomic.Int64, n), picked: make([]atomic.Int64, n),
		received: make([]atomic.Int64, n),
	}
	opts := &event.Options{RequiredFields: required}
	for i, ev := range raw {
		norm, err := event.Normalize(ev, event.Stamp{}, opts)
		if err != nil {
			return nil, fmt.Errorf("normalising generated event %d: %w", i, err)
		}
		d := snap.Decide(rules.Event{Hostname: norm.Hostname, Message: norm.Message, TrapOID: norm.TrapOID, Severity: norm.Severity})
		t.forward[i], t.handle[i] = d.Forward, d.Rule != nil
		end := bytes.LastIndexByte(ev, '}')
		if end < 0 {
			return nil, fmt.Errorf("generated event %d is not an object", i)
		}
		t.distinct[i] = ev[:end]
	}
	for seq := range n {
		if t.forward[seq%len(raw)] {
			t.expected++
		}
		if t.handle[seq%len(raw)] {
			t.handled++
		}
	}
	if t.expected == 0 {
		return nil, errors.New("the bench rules forward none of the generated events")
	}
	return t, nil
}

// body returns event seq stamped with the current time, as a timestamp for
// the rules and the audit partition and in nanoseconds for the latency.
func (t *traffic) body(seq int, now time.Time) []byte {
	base := restamp(t.distinct[seq%len(t.distinct)], now.UTC().Format(time.RFC3339Nano))
	b := make([]byte, 0, len(base)+64)
	b = append(b, base...)
	b = append(b, ',')
	b = append(b, seqKey...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ',')
	b = append(b, sentKey...)
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	return append(b, '}')
}

// seqOf reads the sequence number out of an event, alert or Moogsoft body;
// -1 when there is none or it is out of range.
func (t *traffic) seqOf(b []byte) int {
	i := bytes.Index(b, []byte(seqKey))
	if i < 0 {
		return -1
	}
	n, j := 0, i+len(seqKey)
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		n = n*10 + int(b[j]-'0')
		if n >= len(t.sent) {
			return -1
		}
	}
	if j == i+len(seqKey) {
		return -1
	}
	return n
}

// fill puts the latencies of the alerts of events from seq `from` on into
// res.
func (t *traffic) fill(res *Result, from int) {
	type point struct {
		name string
		at   []atomic.Int64
	}
	points := []point{
		{name: "ingest request answered", at: t.answered},
		{name: "alerter audit insert started", at: t.auditFrom},
		{name: "alerter audit insert done", at: t.auditTo},
		{name: "forwarder took the alert", at: t.picked},
		{name: "Moogsoft received the alert", at: t.received},
	}
	lat := make([][]time.Duration, len(points))
	for seq := from; seq < len(t.sent); seq++ {
		if !t.forward[seq%len(t.distinct)] {
			continue
		}
		res.Expected++
		sent := t.sent[seq].Load()
		if t.received[seq].Load() == 0 || sent == 0 {
			continue
		}
		for k, p := range points {
			if v := p.at[seq].Load(); v != 0 {
				lat[k] = append(lat[k], max(time.Duration(v-sent), 0))
			}
		}
	}
	for k, p := range points {
		slices.Sort(lat[k])
		st := Stage{Name: p.name, P50Millis: millis(percentile(lat[k], 50)), P99Millis: millis(percentile(lat[k], 99))}
		if n := len(lat[k]); n > 0 {
			st.MaxMillis = millis(lat[k][n-1])
		}
		res.Stages = append(res.Stages, st)
	}
	total := lat[len(lat)-1]
	res.Delivered = int64(len(total))
	res.LatencyP50Millis = millis(percentile(total, 50))
	res.LatencyP90Millis = millis(percentile(total, 90))
	res.LatencyP99Millis = millis(percentile(total, 99))
	if n := len(total); n > 0 {
		res.LatencyMaxMillis = millis(total[n-1])
	}
	res.MetaAlerts = t.metaAlerts.Load()
}

// receiptHandler notes when each alert reaches the fake Moogsoft, then
// hands the request on.
type receiptHandler struct {
	next http.Handler
	tr   *traffic
}

func (h *receiptHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, fakemoog.DefaultMaxBodyBytes))
	now := time.Now().UnixNano()
	if err == nil {
		if seq := h.tr.seqOf(body); seq >= 0 && h.tr.received[seq].CompareAndSwap(0, now) {
			switch {
			case h.tr.forward[seq%len(h.tr.distinct)]:
				h.tr.gotExpected.Add(1)
			case !h.tr.handle[seq%len(h.tr.distinct)]:
				h.tr.metaAlerts.Add(1)
			}
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h.next.ServeHTTP(w, r)
}

// auditTimer notes when each handled event's audit insert starts and ends.
type auditTimer struct {
	next alerter.AuditWriter
	tr   *traffic
}

func (a *auditTimer) InsertAudit(ctx context.Context, rows []store.AuditRow) (int64, error) {
	start := time.Now().UnixNano()
	n, err := a.next.InsertAudit(ctx, rows)
	end := time.Now().UnixNano()
	for _, r := range rows {
		if seq := a.tr.seqOf(r.Raw); seq >= 0 {
			a.tr.auditFrom[seq].CompareAndSwap(0, start)
			if err == nil {
				a.tr.auditTo[seq].CompareAndSwap(0, end)
			}
		}
	}
	return n, err
}

// pickupTimer notes when the forwarder hands each alert to the sender
// chain.
type pickupTimer struct {
	next forward.Sender
	tr   *traffic
}

func (p *pickupTimer) Send(ctx context.Context, alerts []forward.Alert) []forward.Result {
	now := time.Now().UnixNano()
	for _, a := range alerts {
		seq := p.tr.seqOf(a.Payload)
		if seq < 0 {
			continue
		}
		p.tr.picked[seq].CompareAndSwap(0, now)
	}
	return p.next.Send(ctx, alerts)
}

// openLoop sends one event per request on a fixed schedule: request k
// leaves k/rate seconds after the start, in its own goroutine, whether or
// not earlier requests have been answered, as long as fewer than
// maxInFlight are.
type openLoop struct {
	url, key string
	rate     float64
	tr       *traffic
	total    int
	// onTimed is called in the schedule's goroutine before event timedFrom
	// is sent, when the timed part starts.
	timedFrom int
	onTimed   func()
}

// maxInFlight bounds the requests an open loop has in flight.
const maxInFlight = 256

// loopSummary is how the sending went.
type loopSummary struct {
	failed       atomic.Int64
	firstErr     atomic.Pointer[string]
	maxLag       time.Duration
	timed        bool // the timed part started
	timedSeconds float64
}

func (s *loopSummary) err() error {
	if n := s.failed.Load(); n > 0 {
		return fmt.Errorf("the ingestor did not accept %d events; first failure: %s", n, *s.firstErr.Load())
	}
	return nil
}

func (s *loopSummary) fail(msg string) {
	s.failed.Add(1)
	s.firstErr.CompareAndSwap(nil, &msg)
}

func (l *openLoop) run(ctx context.Context) (*loopSummary, error) {
	sum := &loopSummary{}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxInFlight
	// An ingestor that falls far behind would otherwise draw ever more
	// connections out of the open loop, until the process runs out of
	// file descriptors; past this many requests in flight the schedule
	// waits, and the send lag shows it.
	inFlight := make(chan struct{}, maxInFlight)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: sender.DefaultTimeout}
	var wg sync.WaitGroup
	defer wg.Wait()
	interval := float64(time.Second) / l.rate
	start := time.Now()
	var timedStart time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for seq := range l.total {
		due := start.Add(time.Duration(float64(seq) * interval))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return sum, ctx.Err()
			}
		} else if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		if seq == l.timedFrom {
			sum.timed = true
			timedStart = time.Now()
			if l.onTimed != nil {
				l.onTimed()
			}
		}
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
			return sum, ctx.Err()
		}
		now := time.Now()
		sum.maxLag = max(sum.maxLag, now.Sub(due))
		body := l.tr.body(seq, now)
		l.tr.sent[seq].Store(now.UnixNano())
		wg.Go(func() {
			defer func() { <-inFlight }()
			l.post(ctx, client, seq, body, sum)
		})
	}
	sum.timedSeconds = time.Since(timedStart).Seconds()
	return sum, nil
}

func (l *openLoop) post(ctx context.Context, client *http.Client, seq int, body []byte, sum *loopSummary) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url+"/api/v2/ingest", bytes.NewReader(body))
	if err != nil {
		sum.fail(err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-KEY", l.key)
	resp, err := client.Do(req)
	if err != nil {
		sum.fail(err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		sum.fail("HTTP " + strconv.Itoa(resp.StatusCode))
		return
	}
	l.tr.answered[seq].Store(time.Now().UnixNano())
}
