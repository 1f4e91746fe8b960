package ingest

import (
	"context"
	"testing"
	"time"
)

func TestLocalLimiterSlidingWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	limit := int64(3)
	l := &localLimiter{limit: func() int64 { return limit }, windowOf: func() time.Duration { return time.Second }, now: func() time.Time { return now }}
	ctx := context.Background()
	admit := func() bool {
		ok, err := l.allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := range 3 {
		if !admit() {
			t.Fatalf("request %d refused under the limit", i)
		}
		now = now.Add(100 * time.Millisecond)
	}
	if admit() {
		t.Fatal("fourth request in the window admitted")
	}
	now = now.Add(701 * time.Millisecond) // the first admission leaves the window
	if !admit() {
		t.Fatal("request refused after the oldest left the window")
	}
	if admit() {
		t.Fatal("admitted over the limit again")
	}
	limit = 1 // shrinking keeps the newest admissions
	if admit() {
		t.Fatal("admitted after the limit shrank below the admissions in the window")
	}
	limit = 10
	for i := range 6 {
		if !admit() {
			t.Fatalf("request %d refused after the limit grew", i)
		}
	}
	if l.window() != time.Second {
		t.Fatalf("window() = %v", l.window())
	}
}
