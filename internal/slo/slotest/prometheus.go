// Package slotest is a fake Prometheus for tests of code that evaluates
// SLOs: a real HTTP server answering /api/v1/query with values configured
// per SLO name.
//
// It must only be imported from _test.go files.
package slotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/slo"
)

// windowRE matches the range an evaluation puts in a query.
var windowRE = regexp.MustCompile(`\[\d+h\]`)

// Prometheus is a fake Prometheus server. Every SLO answers an empty
// result until Set gives it a value.
type Prometheus struct {
	// URL is the base URL to hand to slo.NewEvaluator.
	URL string

	byQuery map[string]string // base-window query -> SLO name

	mu       sync.Mutex
	values   map[string]string // SLO name -> sample value
	statuses map[string]string // SLO name -> Prometheus status other than success
	failures map[string]int    // SLO name -> HTTP 500 answers still to give
	requests map[string]int    // SLO name -> requests seen
	queries  []string          // every query received, in arrival order

	holdN        int           // answer nothing until this many requests arrived
	holdDeadline time.Duration // how long a held request waits at most
	held         chan struct{} // closed once holdN requests arrived
	holdTimedOut bool
}

// New starts a fake Prometheus that stops when the test ends.
func New(t testing.TB) *Prometheus {
	t.Helper()
	p := &Prometheus{
		byQuery:  map[string]string{},
		values:   map[string]string{},
		statuses: map[string]string{},
		failures: map[string]int{},
		requests: map[string]int{},
	}
	for _, d := range slo.Definitions() {
		p.byQuery[d.Query] = d.Name
	}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Set makes the SLO's query answer value (a Prometheus sample string such
// as "0.999" or "NaN"); "" makes it answer an empty result.
func (p *Prometheus) Set(sloName, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.values[sloName] = value
}

// SetStatus makes the SLO's query answer HTTP 200 with the given
// Prometheus status (e.g. "error") and no data.
func (p *Prometheus) SetStatus(sloName, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.statuses[sloName] = status
}

// FailNext makes the next n requests for the SLO answer HTTP 500.
func (p *Prometheus) FailNext(sloName string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures[sloName] = n
}

// HoldUntil makes every request wait until n requests have arrived, or at
// most deadline, after which the waiting requests answer HTTP 503 and
// HoldTimedOut reports true.
func (p *Prometheus) HoldUntil(n int, deadline time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdN, p.holdDeadline, p.held = n, deadline, make(chan struct{})
}

// HoldTimedOut reports whether a held request gave up waiting.
func (p *Prometheus) HoldTimedOut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holdTimedOut
}

// Requests returns how many requests the SLO's query received.
func (p *Prometheus) Requests(sloName string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[sloName]
}

// Queries returns every query received, in arrival order.
func (p *Prometheus) Queries() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...)
}

func (p *Prometheus) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query().Get("query")
	name, known := p.byQuery[windowRE.ReplaceAllString(q, "[5m]")]

	p.mu.Lock()
	p.queries = append(p.queries, q)
	p.requests[name]++
	held, holdN, holdDeadline := p.held, p.holdN, p.holdDeadline
	if held != nil && len(p.queries) == holdN {
		close(held)
	}
	p.mu.Unlock()

	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			return
		case <-time.After(holdDeadline):
			p.mu.Lock()
			p.holdTimedOut = true
			p.mu.Unlock()
			http.Error(w, "held too long", http.StatusServiceUnavailable)
			return
		}
	}
	if !known {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data", "error": "unknown query " + q})
		return
	}

	p.mu.Lock()
	fail := p.failures[name] > 0
	if fail {
		p.failures[name]--
	}
	status, value := p.statuses[name], p.values[name]
	p.mu.Unlock()

	switch {
	case fail:
		http.Error(w, "injected failure", http.StatusInternalServerError)
	case status != "":
		writeJSON(w, http.StatusOK, map[string]any{"status": status, "errorType": "execution", "error": "injected"})
	default:
		result := []any{}
		if value != "" {
			result = append(result, map[string]any{"metric": map[string]string{}, "value": []any{1762768800.0, value}})
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("encoding: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
