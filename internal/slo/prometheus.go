package slo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxResponseBytes bounds how much of a Prometheus answer is read.
const maxResponseBytes = 1 << 20

// queryValue runs one instant query and returns its first sample, or nil
// when there is none. A transport error or a non-200 answer is retried
// once after e.RetryWait; an answer Prometheus marks as failed, an empty
// result, a malformed body or a value that is not finite (NaN when no
// requests were made, +Inf for a quantile in the last bucket) is no data
// at once.
func (e *Evaluator) queryValue(ctx context.Context, base *url.URL, query string) *float64 {
	for attempt := 1; ; attempt++ {
		v, err := e.queryOnce(ctx, base, query)
		if err == nil {
			return v
		}
		if attempt == 2 || ctx.Err() != nil {
			e.logger().Warn("SLO query failed", "query", query, "attempts", attempt, "error", err)
			return nil
		}
		e.logger().Debug("SLO query failed, retrying", "query", query, "error", err, "wait", e.RetryWait)
		t := time.NewTimer(e.RetryWait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			e.logger().Warn("SLO query failed", "query", query, "attempts", attempt, "error", err)
			return nil
		}
	}
}

// promResponse is the envelope of /api/v1/query.
type promResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// queryOnce makes one request. A non-nil error means the request is worth
// retrying; every other outcome is a value or no data.
func (e *Evaluator) queryOnce(ctx context.Context, base *url.URL, query string) (*float64, error) {
	ctx, cancel := context.WithTimeout(ctx, e.QueryTimeout)
	defer cancel()
	u := *base
	u.Path = u.Path + "/api/v1/query"
	u.RawQuery = url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building Prometheus request: %w", err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying Prometheus: %w", err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("querying Prometheus: HTTP %d", resp.StatusCode)
	}
	var pr promResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&pr); err != nil {
		e.logger().Warn("malformed Prometheus answer", "query", query, "error", err)
		return nil, nil
	}
	if pr.Status != "success" {
		return nil, nil
	}
	return sampleValue(pr.Data.ResultType, pr.Data.Result), nil
}

// sampleValue extracts the first value of an instant-query result: the
// first sample of a vector or the value of a scalar.
func sampleValue(resultType string, raw json.RawMessage) *float64 {
	var pair []json.RawMessage // [ <unix time>, "<value>" ]
	switch resultType {
	case "scalar":
		if json.Unmarshal(raw, &pair) != nil {
			return nil
		}
	default:
		var vector []struct {
			Value []json.RawMessage `json:"value"`
		}
		if json.Unmarshal(raw, &vector) != nil || len(vector) == 0 {
			return nil
		}
		pair = vector[0].Value
	}
	if len(pair) != 2 {
		return nil
	}
	var s string
	if json.Unmarshal(pair[1], &s) != nil {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}
