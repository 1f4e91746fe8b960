package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
)

// Defaults applied by Run to zero fields of Options.
const (
	DefaultBatchSize       = 100
	DefaultConcurrency     = 4
	DefaultMaxRetries      = 5
	DefaultRetryBackoffCap = 5 * time.Second
	DefaultTimeout         = 10 * time.Second
)

const (
	// ingestPath is appended to a base URL that does not already name an
	// ingest endpoint.
	ingestPath = "/api/v2/ingest"
	// baseBackoff is the first retry delay when the server gives no
	// Retry-After; it doubles per attempt up to the backoff cap.
	baseBackoff = 100 * time.Millisecond
	// maxRetryAfter bounds how long one Retry-After can stall a worker, so a
	// misconfigured server cannot hang the tool.
	maxRetryAfter = time.Minute
	// maxErrors bounds Summary.Errors.
	maxErrors = 10
	// maxResponseBody bounds what is read of a response; ingest answers are
	// small JSON objects.
	maxResponseBody = 1 << 20
	// maxErrorText bounds one error message kept in the summary.
	maxErrorText = 300
)

// Options say what to send where.
type Options struct {
	// URL is the base URL of the ingestor, e.g. http://127.0.0.1:8080. Events
	// go to <URL>/api/v2/ingest, unless the URL's path already ends in
	// /ingest, in which case it is used as given.
	URL string
	// APIKey is sent as X-API-KEY; it is never logged, printed or put in the
	// summary. Empty sends no header (the ingestor then answers 401).
	APIKey string
	// Events are the event objects to send, in order (see Load and Generate).
	Events [][]byte
	// BatchSize is the number of events per request (default 100). 1 sends
	// each event as a plain JSON object; more sends newline-delimited JSON.
	BatchSize int
	// Concurrency is the number of requests in flight (default 4).
	Concurrency int
	// Repeat sends the whole set this many times (default 1). Batches run
	// across the end of one pass into the next.
	Repeat int
	// Rate is the target in events per second across all workers; 0 sends
	// as fast as possible. Batches leave on an absolute schedule (batch k
	// when k×BatchSize/Rate seconds have passed), so pacing does not drift;
	// with a low rate, a small BatchSize gives smoother traffic.
	Rate float64
	// Retimestamp replaces each event's timestamp with the send time (RFC
	// 3339, UTC) so rules and audit partitions see "now".
	Retimestamp bool
	// MaxRetries is the number of retries per request on 408, 429, 5xx and
	// connection errors (default 5; negative disables retries).
	MaxRetries int
	// RetryBackoffCap caps the exponential backoff used when the server gives
	// no Retry-After (default 5 s). A Retry-After header is honoured as given,
	// up to one minute.
	RetryBackoffCap time.Duration
	// Progress is where a progress bar is drawn; nil draws none.
	Progress io.Writer
	// Client sends the requests; nil means a keep-alive client with a 10 s
	// timeout and one idle connection per worker.
	Client *http.Client
}

// Summary is what happened during Run.
type Summary struct {
	// Events is the number of events Run set out to send (len(Events) ×
	// Repeat). When Run stops early, Events − Accepted − Rejected − Failed
	// were not sent or their outcome is unknown.
	Events int
	// Accepted counts events in requests answered 2xx.
	Accepted int
	// Rejected counts events in requests refused with a 4xx that retrying
	// cannot fix (bad event, bad key, body too large); they are not retried.
	Rejected int
	// Failed counts events given up on after MaxRetries retries, or answered
	// with a status that is neither success nor a client error.
	Failed int
	// Requests counts HTTP requests made, retries included.
	Requests int
	// Retries counts requests that repeated an earlier one.
	Retries int
	// Status maps an HTTP status to the number of final responses with it
	// (a retried request counts once, with its last answer).
	Status map[int]int
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// Errors holds the first distinct error messages, from the server or the
	// connection, at most 10.
	Errors []string
}

// EventsPerSecond returns accepted events per second of elapsed time: the
// ingest throughput the run achieved.
func (s Summary) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Accepted) / s.Elapsed.Seconds()
}

// String renders a short multi-line human summary.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events    %d: accepted %d, rejected %d, failed %d", s.Events, s.Accepted, s.Rejected, s.Failed)
	if left := s.Events - s.Accepted - s.Rejected - s.Failed; left > 0 {
		fmt.Fprintf(&b, ", not sent %d", left)
	}
	fmt.Fprintf(&b, "\nrequests  %d (retries %d)", s.Requests, s.Retries)
	if len(s.Status) > 0 {
		b.WriteString(", status")
		for _, c := range slices.Sorted(maps.Keys(s.Status)) {
			fmt.Fprintf(&b, " %d×%d", c, s.Status[c])
		}
	}
	fmt.Fprintf(&b, "\nelapsed   %s, %.1f accepted events/s", s.Elapsed.Round(time.Millisecond), s.EventsPerSecond())
	if len(s.Errors) > 0 {
		b.WriteString("\nerrors:")
		for _, e := range s.Errors {
			b.WriteString("\n  ")
			b.WriteString(e)
		}
	}
	return b.String()
}

// Run sends every event and returns the summary. It stops early when ctx
// ends, returning what was done and ctx.Err(). Invalid options, or an event
// that is not a JSON object, are reported before anything is sent.
func Run(ctx context.Context, opts Options) (Summary, error) {
	r, err := newRunner(opts)
	if err != nil {
		return Summary{Status: map[int]int{}}, err
	}
	if r.client == nil {
		tr := &http.Transport{}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = dt.Clone()
		}
		tr.MaxIdleConnsPerHost = r.concurrency
		r.client = &http.Client{Transport: tr, Timeout: DefaultTimeout}
		defer tr.CloseIdleConnections()
	}

	start := time.Now()
	if opts.Progress != nil && r.total > 0 {
		w := opts.Progress
		r.bar = progressbar.NewOptions64(int64(r.total),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("sending"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}

	jobs := make(chan batch)
	var wg sync.WaitGroup
	for range r.concurrency {
		wg.Go(func() {
			for b := range jobs {
				r.send(ctx, b)
			}
		})
	}
	r.produce(ctx, jobs, start)
	wg.Wait()

	s := r.summary()
	s.Elapsed = time.Since(start)
	done := s.Accepted + s.Rejected + s.Failed
	if r.bar != nil {
		if done == s.Events {
			_ = r.bar.Finish()
		} else {
			_ = r.bar.Exit()
		}
	}
	if done < s.Events && ctx.Err() != nil {
		return s, ctx.Err()
	}
	return s, nil
}

// batch is a run of consecutive events of the repeated stream; event k of
// the batch is events[(first+k) % len(events)].
type batch struct {
	first, n int
}

// runner holds one Run's resolved settings and its tally. Settings are
// read-only once workers start; the tally is guarded by mu.
type runner struct {
	endpoint    string
	apiKey      string
	events      [][]byte
	tsSpans     []span // with retimestamp: where each event's timestamp value is
	total       int
	batchSize   int
	concurrency int
	rate        float64
	retimestamp bool
	maxRetries  int
	backoffCap  time.Duration
	client      *http.Client
	bar         *progressbar.ProgressBar

	mu   sync.Mutex
	sum  Summary
	seen map[string]bool
}

func newRunner(opts Options) (*runner, error) {
	ep, err := endpoint(opts.URL)
	if err != nil {
		return nil, err
	}
	r := &runner{
		endpoint:    ep,
		apiKey:      opts.APIKey,
		batchSize:   opts.BatchSize,
		concurrency: opts.Concurrency,
		rate:        opts.Rate,
		retimestamp: opts.Retimestamp,
		maxRetries:  opts.MaxRetries,
		backoffCap:  opts.RetryBackoffCap,
		client:      opts.Client,
		seen:        map[string]bool{},
	}
	repeat := opts.Repeat
	switch {
	case r.batchSize < 0:
		return nil, fmt.Errorf("batch size %d: must not be negative", r.batchSize)
	case r.concurrency < 0:
		return nil, fmt.Errorf("concurrency %d: must not be negative", r.concurrency)
	case repeat < 0:
		return nil, fmt.Errorf("repeat %d: must not be negative", repeat)
	case r.rate < 0 || math.IsNaN(r.rate):
		return nil, fmt.Errorf("rate %v: must be a non-negative number of events per second", r.rate)
	case r.backoffCap < 0:
		return nil, fmt.Errorf("retry backoff cap %s: must not be negative", r.backoffCap)
	}
	if r.batchSize == 0 {
		r.batchSize = DefaultBatchSize
	}
	if r.concurrency == 0 {
		r.concurrency = DefaultConcurrency
	}
	if repeat == 0 {
		repeat = 1
	}
	switch {
	case r.maxRetries == 0:
		r.maxRetries = DefaultMaxRetries
	case r.maxRetries < 0:
		r.maxRetries = 0
	}
	if r.backoffCap == 0 {
		r.backoffCap = DefaultRetryBackoffCap
	}

	r.events = make([][]byte, len(opts.Events))
	for i, ev := range opts.Events {
		c, err := compactObject(ev)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		r.events[i] = c
	}
	if r.retimestamp {
		r.tsSpans = make([]span, len(r.events))
		for i, ev := range r.events {
			r.tsSpans[i] = timestampSpan(ev)
		}
	}
	if len(r.events) > 0 && repeat > (1<<40)/len(r.events) {
		return nil, fmt.Errorf("repeat %d: too many events in total", repeat)
	}
	r.total = len(r.events) * repeat
	r.sum = Summary{Events: r.total, Status: map[int]int{}}
	return r, nil
}

// endpoint resolves the ingest URL from the base URL of Options.
func endpoint(base string) (string, error) {
	if base == "" {
		return "", errors.New("url: missing; give the ingestor's base URL, e.g. http://127.0.0.1:8080")
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parsing url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("url %q: want http://host[:port] or https://host[:port]", u.Redacted())
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/ingest") {
		u.Path = p + ingestPath
		u.RawPath = ""
	}
	return u.String(), nil
}

// compactObject checks that ev is one JSON object and removes line breaks
// from it, so it fits on one NDJSON line.
func compactObject(ev []byte) ([]byte, error) {
	t := bytes.TrimSpace(ev)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, fmt.Errorf("not a JSON object: %s", preview(t))
	}
	if !bytes.ContainsAny(t, "\r\n") {
		return t, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, t); err != nil {
		return nil, fmt.Errorf("compacting event: %w", err)
	}
	return buf.Bytes(), nil
}

func preview(b []byte) string {
	const n = 40
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "…"
	}
	return strconv.Quote(string(b))
}

// span is the byte range of a compact event's top-level timestamp value;
// start < 0 means the event has none.
type span struct{ start, end int }

// timestampSpan finds the value of the last top-level "timestamp" key (the
// one JSON decoders keep), so retimestamping is a splice at send time rather
// than a decode and re-encode of every event. It scans by hand because a
// json.Decoder walk costs several times more than the rest of Run's
// preparation; ev must already be a valid JSON object (see compactObject),
// and on anything else it reports no timestamp rather than misbehaving.
func timestampSpan(ev []byte) span {
	none := span{start: -1}
	sp := none
	i := skipSpace(ev, 0)
	if i >= len(ev) || ev[i] != '{' {
		return none
	}
	i++
	for {
		i = skipSpace(ev, i)
		if i >= len(ev) || ev[i] != '"' {
			return sp
		}
		keyEnd := skipString(ev, i)
		key := ev[i:keyEnd]
		i = skipSpace(ev, keyEnd)
		if i >= len(ev) || ev[i] != ':' {
			return none
		}
		start := skipSpace(ev, i+1)
		end := skipValue(ev, start)
		if start >= end {
			return none
		}
		if isTimestampKey(key) {
			sp = span{start: start, end: end}
		}
		i = skipSpace(ev, end)
		if i >= len(ev) || ev[i] != ',' {
			return sp
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return min(i, len(b))
}

func isTimestampKey(key []byte) bool {
	if string(key) == `"timestamp"` {
		return true
	}
	if !bytes.ContainsRune(key, '\\') {
		return false
	}
	var s string
	return json.Unmarshal(key, &s) == nil && s == "timestamp"
}

// produce hands batches to the workers, pacing them when a rate is set, and
// closes jobs when done or when ctx ends.
func (r *runner) produce(ctx context.Context, jobs chan<- batch, start time.Time) {
	defer close(jobs)
	for first := 0; first < r.total; first += r.batchSize {
		if ctx.Err() != nil {
			return
		}
		if r.rate > 0 {
			due := start.Add(time.Duration(float64(first) / r.rate * float64(time.Second)))
			if !sleep(ctx, time.Until(due)) {
				return
			}
		}
		select {
		case jobs <- batch{first: first, n: min(r.batchSize, r.total-first)}:
		case <-ctx.Done():
			return
		}
	}
}

// sleep waits for d or until ctx ends; it reports whether the full wait
// happened.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// response is the outcome of one HTTP attempt: err for a transport failure,
// otherwise the status, the Retry-After delay (negative when absent) and the
// start of the body.
type response struct {
	err        error
	status     int
	retryAfter time.Duration
	body       []byte
}

// send delivers one batch, retrying as the options allow, and records the
// final outcome. An attempt cut short by ctx leaves the batch uncounted: the
// server may or may not have queued it.
func (r *runner) send(ctx context.Context, b batch) {
	body, contentType := r.body(b)
	for attempt := 0; ; attempt++ {
		r.countRequest(attempt > 0)
		res := r.post(ctx, body, contentType)
		if res.err != nil && ctx.Err() != nil {
			return
		}
		switch {
		case res.err == nil && res.status >= 200 && res.status < 300:
			r.finish(b, res.status, func(s *Summary) { s.Accepted += b.n }, "")
			return
		case retryable(res):
			if attempt < r.maxRetries {
				if !sleep(ctx, r.delay(attempt, res)) {
					return
				}
				continue
			}
			r.finish(b, res.status, func(s *Summary) { s.Failed += b.n }, r.describe(b, res))
			return
		case res.status >= 400 && res.status < 500:
			r.finish(b, res.status, func(s *Summary) { s.Rejected += b.n }, r.describe(b, res))
			return
		default:
			r.finish(b, res.status, func(s *Summary) { s.Failed += b.n }, r.describe(b, res))
			return
		}
	}
}

// retryable says whether another attempt may succeed: connection problems,
// timeouts, rate limiting and server-side trouble.
func retryable(res response) bool {
	if res.err != nil {
		return true
	}
	return res.status == http.StatusRequestTimeout || res.status == http.StatusTooManyRequests || res.status >= 500
}

// delay is how long to wait before retry number attempt+1: the server's
// Retry-After when given, else exponential backoff with jitter so that
// workers do not retry in lockstep.
func (r *runner) delay(attempt int, res response) time.Duration {
	if res.retryAfter >= 0 {
		return min(res.retryAfter, maxRetryAfter)
	}
	d := r.backoffCap
	if attempt < 30 {
		d = min(baseBackoff<<attempt, r.backoffCap)
	}
	return d/2 + rand.N(d/2+1)
}

// body builds the request body of a batch: a plain object for a batch size
// of 1, NDJSON otherwise. With retimestamp the whole batch gets one stamp,
// taken now; retries resend the same body.
func (r *runner) body(b batch) ([]byte, string) {
	var stamp []byte
	if r.retimestamp {
		stamp = strconv.AppendQuote(nil, time.Now().UTC().Format(time.RFC3339Nano))
	}
	size := 0
	for k := range b.n {
		size += len(r.events[(b.first+k)%len(r.events)]) + len(stamp) + 16
	}
	buf := make([]byte, 0, size)
	for k := range b.n {
		i := (b.first + k) % len(r.events)
		ev := r.events[i]
		switch {
		case !r.retimestamp:
			buf = append(buf, ev...)
		case r.tsSpans[i].start >= 0:
			sp := r.tsSpans[i]
			buf = append(buf, ev[:sp.start]...)
			buf = append(buf, stamp...)
			buf = append(buf, ev[sp.end:]...)
		default:
			buf = append(buf, `{"timestamp":`...)
			buf = append(buf, stamp...)
			if len(bytes.TrimSpace(ev[1:len(ev)-1])) > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, ev[1:]...)
		}
		if r.batchSize > 1 {
			buf = append(buf, '\n')
		}
	}
	if r.batchSize > 1 {
		return buf, "application/x-ndjson"
	}
	return buf, "application/json"
}

// post makes one HTTP attempt.
func (r *runner) post(ctx context.Context, body []byte, contentType string) response {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return response{err: fmt.Errorf("building request: %w", err), retryAfter: -1}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mutt-send")
	if r.apiKey != "" {
		req.Header.Set("X-API-KEY", r.apiKey)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return response{err: err, retryAfter: -1}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil && resp.StatusCode/100 == 2 {
		// The status line already says the batch was queued.
		err = nil
	}
	res := response{
		status:     resp.StatusCode,
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		body:       data,
	}
	if err != nil {
		res.err = fmt.Errorf("reading response (HTTP %d): %w", resp.StatusCode, err)
	}
	return res
}

// parseRetryAfter reads delay-seconds or an HTTP date; it returns a negative
// duration when the header is absent or unusable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// errorBody is the ingestor's error answer.
type errorBody struct {
	Message string `json:"message"`
	Errors  []struct {
		Index *int   `json:"index"`
		Field string `json:"field"`
		Error string `json:"error"`
	} `json:"errors"`
}

// describe turns a failed attempt into one summary line. Item indexes in the
// server's answer count within the batch; they are rewritten to indexes of
// Options.Events so the operator can find the event in the input.
func (r *runner) describe(b batch, res response) string {
	if res.err != nil {
		return truncate(res.err.Error())
	}
	var eb errorBody
	msg := ""
	if json.Unmarshal(res.body, &eb) == nil && eb.Message != "" {
		msg = eb.Message
		const shown = 3
		var details []string
		for j, e := range eb.Errors {
			if j == shown {
				details = append(details, fmt.Sprintf("+%d more", len(eb.Errors)-shown))
				break
			}
			d := strings.TrimSpace(e.Field + ": " + e.Error)
			if e.Index != nil && *e.Index >= 0 && *e.Index < b.n {
				d = fmt.Sprintf("event %d %s", (b.first+*e.Index)%len(r.events), d)
			}
			details = append(details, d)
		}
		if len(details) > 0 {
			msg += " (" + strings.Join(details, "; ") + ")"
		}
	} else {
		msg = strings.Join(strings.Fields(string(res.body)), " ")
	}
	if msg == "" {
		msg = http.StatusText(res.status)
	}
	if res.status == http.StatusRequestEntityTooLarge {
		msg += " — lower the batch size"
	}
	return truncate(fmt.Sprintf("HTTP %d: %s", res.status, msg))
}

func truncate(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (r *runner) countRequest(retry bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Requests++
	if retry {
		r.sum.Retries++
	}
}

// finish records a batch's final outcome; status 0 means no HTTP answer.
func (r *runner) finish(b batch, status int, count func(*Summary), errMsg string) {
	r.mu.Lock()
	count(&r.sum)
	if status != 0 {
		r.sum.Status[status]++
	}
	if errMsg != "" && !r.seen[errMsg] && len(r.sum.Errors) < maxErrors {
		r.seen[errMsg] = true
		r.sum.Errors = append(r.sum.Errors, errMsg)
	}
	r.mu.Unlock()
	if r.bar != nil {
		_ = r.bar.Add(b.n)
	}
}

func (r *runner) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Status = maps.Clone(r.sum.Status)
	s.Errors = append([]string(nil), r.sum.Errors...)
	return s
}
