package dynconfig

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ValueError says which key a value was refused for and why.
type ValueError struct {
	Key    string
	Reason string // e.g. "must be from 1 to 86400, got 0"
}

func (e *ValueError) Error() string { return e.Key + ": " + e.Reason }

// Validate checks value against the declaration of name alone and returns a
// *ValueError naming the key and the rule broken.
func Validate(name, value string) error {
	k, ok := Lookup(name)
	if !ok {
		return &ValueError{Key: name, Reason: "unknown dynamic config key"}
	}
	return k.Check(value)
}

// ValidateWith is Validate plus the rules between keys: a warning level
// must not exceed its critical level. current returns the stored value of
// another key; when that key is unset its registry default is used, which
// is what the readers fall back to.
func ValidateWith(name, value string, current func(name string) (string, bool)) error {
	if err := Validate(name, value); err != nil {
		return err
	}
	k, _ := Lookup(name)
	v, _ := parseFloat(value)
	other := func(n string) (float64, bool) {
		s, set := "", false
		if current != nil {
			s, set = current(n)
		}
		if !set {
			decl, found := Lookup(n)
			if !found {
				return 0, false
			}
			s = decl.Default
		}
		f, err := parseFloat(s)
		return f, err == nil
	}
	if k.AtMost != "" {
		if limit, ok := other(k.AtMost); ok && v > limit {
			return &ValueError{Key: name, Reason: fmt.Sprintf("must not exceed %s (%s), got %s", k.AtMost, formatFloat(limit), value)}
		}
	}
	for _, lower := range Keys() {
		if lower.AtMost != name {
			continue
		}
		if floor, ok := other(lower.Name); ok && v < floor {
			return &ValueError{Key: name, Reason: fmt.Sprintf("must not be below %s (%s), got %s", lower.Name, formatFloat(floor), value)}
		}
	}
	return nil
}

// Check validates value against k's kind and bounds.
func (k Key) Check(value string) error {
	bad := func(format string, args ...any) error {
		return &ValueError{Key: k.Name, Reason: fmt.Sprintf(format, args...)}
	}
	switch k.Kind {
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return bad("must be an integer, got %q", value)
		}
		if !k.inBounds(float64(n)) {
			return bad("must be %s, got %d", k.Bounds(), n)
		}
	case Float:
		f, err := parseFloat(value)
		if err != nil {
			return bad("must be a number, got %q", value)
		}
		if !k.inBounds(f) {
			return bad("must be %s, got %s", k.Bounds(), strings.TrimSpace(value))
		}
	case Bool:
		if _, err := ParseBool(value); err != nil {
			return bad("must be true or false, got %q", value)
		}
	case Enum:
		if !slices.Contains(k.Values, value) {
			return bad("must be one of %s, got %q", strings.Join(k.Values, ", "), value)
		}
	case String:
	default:
		return bad("has unknown kind %q", k.Kind)
	}
	return nil
}

func (k Key) inBounds(v float64) bool {
	if v < k.Min || k.ExclusiveMin && v == k.Min {
		return false
	}
	if v > k.Max || k.ExclusiveMax && v == k.Max {
		return false
	}
	return true
}

// Bounds describes the allowed values of k for messages and documents,
// e.g. "from 1 to 86400", "greater than 0", "one of defer, dlq, off".
func (k Key) Bounds() string {
	switch k.Kind {
	case Int, Float:
		lo, hi := "at least ", "at most "
		if k.ExclusiveMin {
			lo = "greater than "
		}
		if k.ExclusiveMax {
			hi = "less than "
		}
		switch {
		case math.IsInf(k.Max, 1):
			return lo + formatFloat(k.Min)
		case !k.ExclusiveMin && !k.ExclusiveMax:
			return "from " + formatFloat(k.Min) + " to " + formatFloat(k.Max)
		}
		return lo + formatFloat(k.Min) + " and " + hi + formatFloat(k.Max)
	case Bool:
		return "true or false"
	case Enum:
		return "one of " + strings.Join(k.Values, ", ")
	}
	return "any text"
}

// ParseBool reads true or false in any case.
func ParseBool(value string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("not true or false: %q", value)
}

// parseFloat reads a finite decimal number.
func parseFloat(value string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a finite number: %q", value)
	}
	return f, nil
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
