package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/version"
)

// Webhook defaults.
const (
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookConcurrency = 32
)

// maxRetryAfter caps how long a Retry-After header can hold an alert back.
const maxRetryAfter = 5 * time.Minute

// Response bodies are read so the connection can be reused; a failure's
// first bytes go into the error for the dead letter and the logs.
const (
	maxDrain   = 64 << 10
	maxSnippet = 200
)

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	URL    string         // the Moogsoft events endpoint, http or https
	APIKey secrets.Secret // sent as "Authorization: Bearer <key>"; no header when unset
	// Timeout bounds one request from connecting to reading the whole
	// response; 10 s when zero.
	Timeout time.Duration
	// Concurrency is the most requests one Send has in flight; 32 when
	// zero.
	Concurrency int
	// Client sends the requests. Nil gives a keep-alive client that keeps
	// up to 4×Concurrency idle connections (enough for four workers).
	// Redirects are never followed, whatever Client says: a redirected
	// POST would reach a different endpoint or turn into a GET.
	Client  *http.Client
	Metrics *Metrics
	// Now gives agent_time; time.Now when nil.
	Now func() time.Time
}

// Webhook is the Sender at the end of the chain: it POSTs each alert to
// Moogsoft as one event and classifies the answer. It is safe for
// concurrent use.
type Webhook struct {
	url         string
	header      http.Header // read-only; cloned into each request
	client      *http.Client
	timeout     time.Duration
	concurrency int
	metrics     *Metrics
	now         func() time.Time
}

var _ Sender = (*Webhook)(nil)

// NewWebhook checks the options and builds a Webhook.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing Moogsoft webhook URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("moogsoft webhook URL %q must be an absolute http or https URL", u.Redacted())
	}
	if strings.ContainsAny(opts.APIKey.Reveal(), "\r\n\x00") {
		return nil, errors.New("moogsoft API key contains a line break or NUL; check MOOG_API_KEY")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWebhookTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultWebhookConcurrency
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var client http.Client
	if opts.Client != nil {
		client = *opts.Client
	} else {
		// Several forwarder workers share one Webhook, each with up to
		// Concurrency requests in flight; keeping that many connections
		// idle between batches saves a TCP and TLS handshake per alert.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 4 * opts.Concurrency
		t.MaxIdleConns = max(t.MaxIdleConns, t.MaxIdleConnsPerHost)
		client.Transport = t
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	// The User-Agent identifies MUTT to Moogsoft; it is not part of the contract.
	h.Set("User-Agent", "mutt/"+version.Version()+" (moog-forwarder)")
	if opts.APIKey.IsSet() {
		h.Set("Authorization", "Bearer "+opts.APIKey.Reveal())
	}
	return &Webhook{
		url: u.String(), header: h, client: &client, timeout: opts.Timeout,
		concurrency: opts.Concurrency, metrics: opts.Metrics, now: opts.Now,
	}, nil
}

// Close releases idle connections; it is safe to call more than once.
func (w *Webhook) Close() error {
	w.client.CloseIdleConnections()
	return nil
}

// Send POSTs every alert, at most Concurrency at a time, and returns when
// all have been answered. Alerts that are not JSON objects fail at once with
// reason malformed_alert; alerts not sent because ctx ended are parked.
func (w *Webhook) Send(ctx context.Context, alerts []Alert) []Result {
	res := make([]Result, len(alerts))
	workers := min(len(alerts), w.concurrency)
	if workers <= 1 {
		for i := range alerts {
			res[i] = w.send(ctx, &alerts[i])
		}
		return res
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(alerts) {
					return
				}
				res[i] = w.send(ctx, &alerts[i])
			}
		})
	}
	wg.Wait()
	return res
}

func (w *Webhook) send(ctx context.Context, a *Alert) Result {
	var f alertFields
	if err := parseAlert(a.Payload, &f); err != nil {
		return Result{Outcome: Failed, Err: err, Reason: reasonMalformed}
	}
	if ctx.Err() != nil {
		return interrupted(ctx)
	}
	body := appendBody(make([]byte, 0, len(a.Payload)+384), &f, w.now().Unix())
	rctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		// The URL was checked when the Webhook was built, so this is not
		// expected; like any failure to send, it is worth another try.
		w.metrics.requestDone(reasonConnection, true)
		return Result{Outcome: Retry, Err: fmt.Errorf("building Moogsoft request: %w", err), Reason: reasonConnection}
	}
	req.Header = w.header.Clone()
	start := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return w.transportFailure(ctx, err)
	}
	var snippet []byte
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var buf [maxSnippet]byte
		n, _ := io.ReadFull(resp.Body, buf[:])
		snippet = buf[:n]
	}
	// The status line is Moogsoft's answer: a body cut short only costs
	// the connection, it does not change the outcome.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	w.metrics.observeLatency(time.Since(start))
	r := classify(resp.StatusCode, resp.Header, snippet, w.now())
	metricReason := r.Reason
	if resp.StatusCode == http.StatusTooManyRequests {
		metricReason = metricRateLimit429
	}
	w.metrics.requestDone(metricReason, r.Outcome != Delivered)
	return r
}

// interrupted is the result for an alert whose request was cut short by the
// caller: it may or may not have reached Moogsoft, and it is sent again
// later without spending an attempt (external_id lets Moogsoft de-duplicate).
func interrupted(ctx context.Context) Result {
	return Result{Outcome: Park, Err: fmt.Errorf("sending to Moogsoft interrupted: %w", context.Cause(ctx))}
}

func (w *Webhook) transportFailure(ctx context.Context, err error) Result {
	if ctx.Err() != nil {
		return interrupted(ctx)
	}
	reason := reasonConnection
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		reason = reasonTimeout
	}
	w.metrics.requestDone(reason, true)
	return Result{Outcome: Retry, Err: fmt.Errorf("posting to Moogsoft: %w", err), Reason: reason}
}

// classify turns a Moogsoft answer into a Result: any 2xx is delivered;
// 408, 425, 429 and 5xx are worth another try; a redirect and other 4xx
// are permanent.
func classify(status int, h http.Header, snippet []byte, now time.Time) Result {
	r := Result{Status: status}
	switch {
	case status >= 200 && status <= 299:
		r.Outcome = Delivered
		return r
	case status >= 300 && status <= 399:
		r.Outcome, r.Reason = Failed, reasonRedirect
		r.Err = fmt.Errorf("moogsoft answered HTTP %d redirecting to %q; redirects are not followed, check MOOG_WEBHOOK_URL", status, h.Get("Location"))
		return r
	case status == http.StatusTooManyRequests:
		r.Outcome, r.Reason = Retry, reasonRateLimit
		r.RetryAfter = retryAfter(h.Get("Retry-After"), now)
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly:
		r.Outcome, r.Reason = Retry, reasonHTTP4xx
	case status >= 500:
		r.Outcome, r.Reason = Retry, reasonHTTP5xx
		if status == http.StatusServiceUnavailable {
			r.RetryAfter = retryAfter(h.Get("Retry-After"), now)
		}
	default:
		r.Outcome, r.Reason = Failed, reasonHTTP4xx
	}
	r.Err = statusError(status, snippet)
	return r
}

func statusError(status int, snippet []byte) error {
	if len(bytes.TrimSpace(snippet)) == 0 {
		return fmt.Errorf("moogsoft answered HTTP %d", status)
	}
	return fmt.Errorf("moogsoft answered HTTP %d: %q", status, bytes.TrimSpace(snippet))
}

// retryAfter reads a Retry-After header (delay in seconds or an HTTP date)
// and caps it; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs >= int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
