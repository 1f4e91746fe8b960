package rediskeys

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// GlobEscape quotes the characters SCAN MATCH treats specially.
func GlobEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// WithPrefix returns the names of the keys that start with prefix, sorted,
// each once (SCAN may return a key twice).
func WithPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]string, error) {
	pattern := GlobEscape(prefix) + "*"
	var keys []string
	var cursor uint64
	for {
		page, next, err := rdb.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("listing keys %s*: %w", prefix, err)
		}
		keys = append(keys, page...)
		if next == 0 {
			break
		}
		cursor = next
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}
