package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StreamEvents waits until stream holds at least n entries and returns
// every entry's "e" field (the queue's payload) decoded as a JSON object.
func StreamEvents(t testing.TB, rdb redis.UniversalClient, stream string, n int) []map[string]any {
	t.Helper()
	Eventually(t, 20*time.Second, fmt.Sprintf("%d events in %s", n, stream), func() bool {
		got, err := rdb.XLen(context.Background(), stream).Result()
		return err == nil && got >= int64(n)
	})
	msgs, err := rdb.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["e"].(string)
		var ev map[string]any
		if err := json.Unmarshal([]byte(s), &ev); err != nil {
			t.Fatalf("entry %s: %v", m.ID, err)
		}
		out = append(out, ev)
	}
	return out
}
