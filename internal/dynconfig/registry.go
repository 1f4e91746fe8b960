// Package dynconfig is MUTT's runtime configuration: values under
// mutt:config:<name> in Redis that override static settings without a
// restart, a registry that declares every known name with its type and
// bounds, and a Store that caches the values and drops a cached value as
// soon as its name is published on mutt:config:updates.
//
// It must not import other MUTT packages.
package dynconfig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind is the type of a dynamic value.
type Kind string

// Kinds of dynamic values.
const (
	Int  Kind = "int"
	Enum Kind = "enum"
)

// Key declares one dynamic setting.
type Key struct {
	Name     string
	Kind     Kind
	Min, Max int64    // bounds for Int
	Values   []string // allowed values for Enum
	Roles    []string // which roles read it
	Doc      string
}

// Keys lists every dynamic setting MUTT reads. It is the single source for
// validation, the API and the documentation.
func Keys() []Key {
	return []Key{
		{Name: "max_ingest_queue_size", Kind: Int, Min: 1000, Max: 1 << 40, Roles: []string{"ingestor"},
			Doc: "ingest queue length at which the ingestor answers 503"},
		{Name: "ingest_max_rate", Kind: Int, Min: 1, Max: 1 << 31, Roles: []string{"ingestor"},
			Doc: "requests per window allowed across all ingestors when the rate limit is enabled"},
		{Name: "ingest_rate_window", Kind: Int, Min: 1, Max: 86400, Roles: []string{"ingestor"},
			Doc: "rate-limit window in seconds"},
		{Name: "cache_reload_interval", Kind: Int, Min: 1, Max: 86400, Roles: []string{"alerter"},
			Doc: "seconds between periodic reloads of rules, development hosts and teams"},
		{Name: "unhandled_threshold", Kind: Int, Min: 1, Max: 1 << 31, Roles: []string{"alerter"},
			Doc: "identical unhandled messages from one host that raise a meta-alert"},
		{Name: "unhandled_expiry_seconds", Kind: Int, Min: 1, Max: 365 * 86400, Roles: []string{"alerter"},
			Doc: "window in seconds for counting unhandled messages, and quiet period after a meta-alert"},
		{Name: "alerter_queue_warn_threshold", Kind: Int, Min: 1, Max: 1 << 40, Roles: []string{"alerter"},
			Doc: "alert queue length above which the alerter logs a warning"},
		{Name: "alerter_queue_shed_threshold", Kind: Int, Min: 1, Max: 1 << 40, Roles: []string{"alerter"},
			Doc: "alert queue length above which the alerter sheds load"},
		{Name: "alerter_shed_mode", Kind: Enum, Values: []string{"defer", "dlq", "off"}, Roles: []string{"alerter"},
			Doc: "defer: pause consuming; dlq: move the oldest ingest events to the alerter DLQ; off: ignore"},
		{Name: "alerter_defer_sleep_ms", Kind: Int, Min: 1, Max: 60000, Roles: []string{"alerter"},
			Doc: "pause in milliseconds between checks while deferring"},
		{Name: "moog_rate_limit", Kind: Int, Min: 0, Max: 1 << 31, Roles: []string{"forwarder"},
			Doc: "alerts per period sent to Moogsoft across all forwarders (0: no limit)"},
		{Name: "moog_rate_period", Kind: Int, Min: 1, Max: 3600, Roles: []string{"forwarder"},
			Doc: "rate-limit period in seconds"},
		{Name: "circuit_breaker_threshold", Kind: Int, Min: 1, Max: 1 << 20, Roles: []string{"forwarder"},
			Doc: "consecutive Moogsoft failures that open the circuit breaker"},
		{Name: "circuit_breaker_timeout", Kind: Int, Min: 1, Max: 86400, Roles: []string{"forwarder"},
			Doc: "seconds the breaker stays open before one probe is let through"},
		{Name: "remediation_interval", Kind: Int, Min: 1, Max: 86400, Roles: []string{"remediation"},
			Doc: "seconds between dead-letter replay cycles"},
		{Name: "remediation_batch_size", Kind: Int, Min: 1, Max: 100000, Roles: []string{"remediation"},
			Doc: "dead letters replayed per queue and cycle at most"},
		{Name: "max_poison_retries", Kind: Int, Min: 0, Max: 1000, Roles: []string{"remediation"},
			Doc: "replays of one message before it goes to mutt:dlq:dead"},
	}
}

// Lookup returns the declaration of name.
func Lookup(name string) (Key, bool) {
	for _, k := range Keys() {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// Validate checks value against the declaration of name and returns an error
// naming the key and the rule broken.
func Validate(name, value string) error {
	k, ok := Lookup(name)
	if !ok {
		return fmt.Errorf("%s: unknown dynamic config key", name)
	}
	switch k.Kind {
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: must be an integer, got %q", name, value)
		}
		if n < k.Min || n > k.Max {
			return fmt.Errorf("%s: must be from %d to %d, got %d", name, k.Min, k.Max, n)
		}
	case Enum:
		if !slices.Contains(k.Values, value) {
			return fmt.Errorf("%s: must be one of %s, got %q", name, strings.Join(k.Values, ", "), value)
		}
	}
	return nil
}
