package dlqadmin

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// IDPattern matches a stream entry ID: milliseconds, optionally a dash and
// a sequence number.
var IDPattern = regexp.MustCompile(`^[0-9]+(-[0-9]+)?$`)

// NormalizeID checks a stream entry ID and completes a bare millisecond
// time with sequence 0, as Redis does.
func NormalizeID(id string) (string, error) {
	if !IDPattern.MatchString(id) {
		return "", fmt.Errorf("%q is not an entry ID (they look like 1736680200123-0)", id)
	}
	if !strings.Contains(id, "-") {
		id += "-0"
	}
	return id, nil
}

// IDLess orders stream entry IDs by time, then sequence.
func IDLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ai, _ := strconv.ParseUint(am, 10, 64)
	bi, _ := strconv.ParseUint(bm, 10, 64)
	if ai != bi {
		return ai < bi
	}
	asq, _ := strconv.ParseUint(as, 10, 64)
	bsq, _ := strconv.ParseUint(bs, 10, 64)
	return asq < bsq
}

// ParseAge reads a duration in Go syntax (90s, 15m, 2h30m) or whole days
// (3d); negative durations are refused.
func ParseAge(v string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int64
		n, err = strconv.ParseInt(days, 10, 64)
		if err == nil && n > 1<<20 {
			err = errors.New("too many days")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil {
		return 0, fmt.Errorf("age %q: %w", v, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("age %q is negative", v)
	}
	return d, nil
}
