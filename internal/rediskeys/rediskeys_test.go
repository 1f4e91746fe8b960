package rediskeys_test

import (
	"slices"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/rediskeys"
)

func TestWithPrefixQuotesGlobCharacters(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	for _, k := range []string{prefix + ":a[1]:x", prefix + ":a[1]:y", prefix + ":a1:z", prefix + ":a*:w"} {
		if err := rdb.Set(t.Context(), k, "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := rediskeys.WithPrefix(t.Context(), rdb, prefix+":a[1]:")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{prefix + ":a[1]:x", prefix + ":a[1]:y"}; !slices.Equal(got, want) {
		t.Errorf("WithPrefix = %v, want %v", got, want)
	}
	if got := rediskeys.GlobEscape(`a*b?[c]\`); got != `a\*b\?\[c\]\\` {
		t.Errorf("GlobEscape = %q", got)
	}
}
