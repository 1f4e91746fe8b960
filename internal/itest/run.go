package itest

import (
	"context"
	"testing"
)

// RunUntilCleanup starts every run function in a goroutine of its own with
// one context, and at the test's cleanup cancels that context and waits for
// all of them to return: the lifecycle of components under test (Run(ctx)
// blocks until the context ends).
func RunUntilCleanup(t testing.TB, runs ...func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, len(runs))
	for _, run := range runs {
		go func() { _ = run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range runs {
			<-done
		}
	})
}
