// Package dynconfig is MUTT's runtime configuration: values that override
// static settings without a restart, kept by a Backend (under
// mutt:config:<name> in Redis, or in the embedded database), a registry that
// declares every known name with its type, bounds and default, and a Store
// that caches the values and drops a cached value as soon as the backend's
// watch names it (on Redis, a publish on mutt:config:updates).
//
// It imports only the rediskeys package of MUTT.
package dynconfig

import (
	"math"
	"slices"
)

// Kind is the type of a dynamic value.
type Kind string

// Kinds of dynamic values. Every value is stored as a string; the kind says
// how it is parsed.
const (
	Int    Kind = "int"
	Float  Kind = "float"
	Bool   Kind = "bool" // true or false, in any case
	String Kind = "string"
	Enum   Kind = "enum"
)

// Key declares one dynamic setting.
type Key struct {
	Name string
	Kind Kind
	// Min and Max bound Int and Float values (inclusive unless the matching
	// Exclusive flag is set); an unbounded side is ±Inf.
	Min, Max                   float64
	ExclusiveMin, ExclusiveMax bool
	// AtMost names another key this value must not exceed (a warning level
	// and its critical level), checked by ValidateWith.
	AtMost  string
	Values  []string // allowed values for Enum
	Default string   // what the readers use when the key is unset, in string form
	Roles   []string // which roles read it
	Doc     string
	// Reserved keys are documented but read by nothing; they are validated
	// and listed but never seeded.
	Reserved bool
}

// Role names used in Key.Roles.
const (
	roleIngestor    = "ingestor"
	roleAlerter     = "alerter"
	roleForwarder   = "forwarder"
	roleRemediation = "remediation"
	roleWebUI       = "webui"
	roleSLO         = "slo"
	roleRetention   = "retention"
)

// SLONames are the SLOs with per-SLO keys slo_<name>_*, in definition order.
func SLONames() []string {
	return []string{"ingestor_availability", "ingestor_latency_p99", "forwarder_availability",
		"forwarder_latency_p99", "alerter_processing_success", "alerter_cache_reload_success"}
}

// Keys lists every dynamic setting MUTT knows, in a fixed order. It is the
// single source for validation, seeding, the API and the documentation.
func Keys() []Key {
	keys := []Key{
		intKey("max_ingest_queue_size", 1000, 1<<40, "1000000", roleIngestor,
			"ingest queue length at which the ingestor answers 503"),
		intKey("ingest_max_rate", 1, 1<<31, "1000", roleIngestor,
			"requests per window allowed across all ingestors when the rate limit is enabled"),
		intKey("ingest_rate_window", 1, 86400, "60", roleIngestor,
			"rate-limit window in seconds"),
		intKey("cache_reload_interval", 1, 86400, "300", roleAlerter,
			"seconds between periodic reloads of rules, development hosts and teams"),
		intKey("unhandled_threshold", 1, 1<<31, "100", roleAlerter,
			"identical unhandled messages from one host that raise a meta-alert"),
		intKey("unhandled_expiry_seconds", 1, 365*86400, "86400", roleAlerter,
			"window in seconds for counting unhandled messages, and quiet period after a meta-alert"),
		intKey("alerter_queue_warn_threshold", 1, 1<<40, "1000", roleAlerter,
			"alert queue length above which the alerter logs a warning"),
		intKey("alerter_queue_shed_threshold", 1, 1<<40, "2000", roleAlerter,
			"alert queue length above which the alerter sheds load"),
		{Name: "alerter_shed_mode", Kind: Enum, Values: []string{"defer", "dlq", "off"}, Default: "dlq",
			Roles: []string{roleAlerter},
			Doc:   "defer: pause consuming; dlq: move the oldest ingest events to the alerter DLQ; off: ignore"},
		intKey("alerter_defer_sleep_ms", 1, 60000, "250", roleAlerter,
			"pause in milliseconds between checks while deferring"),
		intKey("moog_rate_limit", 0, 1<<31, "50", roleForwarder,
			"alerts per period sent to Moogsoft across all forwarders (0: no limit)"),
		intKey("moog_rate_period", 1, 3600, "1", roleForwarder,
			"rate-limit period in seconds"),
		intKey("circuit_breaker_threshold", 1, 1<<20, "10", roleForwarder,
			"consecutive Moogsoft failures that open the circuit breaker"),
		intKey("circuit_breaker_timeout", 1, 86400, "300", roleForwarder,
			"seconds the breaker stays open before one probe is let through"),
		intKey("remediation_interval", 1, 86400, "300", roleRemediation,
			"seconds between dead-letter replay cycles"),
		intKey("remediation_batch_size", 1, 100000, "10", roleRemediation,
			"dead letters replayed per queue and cycle at most"),
		intKey("max_poison_retries", 0, 1000, "3", roleRemediation,
			"replays of one message before it goes to mutt:dlq:dead"),
	}
	keys = append(keys, sloKeys()...)
	keys = append(keys,
		intKey("event_retention_days", 1, 36500, "90", roleRetention,
			"days events stay in event_audit_log before they are archived (read once at start)"),
		intKey("event_archive_retention_years", 1, 100, "7", roleRetention,
			"years archived events are kept"),
		intKey("config_audit_retention_days", 1, 36500, "365", roleRetention,
			"days config_audit_log rows are kept"),
		Key{Name: "retention_enforcement_enabled", Kind: Bool, Default: "true", Roles: []string{roleRetention},
			Doc: "whether the retention enforcer archives and deletes anything"},
		Key{Name: "remediation_enabled", Kind: Bool, Default: "true", Roles: []string{roleRemediation}, Reserved: true,
			Doc: "documented switch for remediation; read by nothing (use REMEDIATION_ENABLED)"},
		Key{Name: "slo_burn_rate_warning", Kind: Float, Min: 0, ExclusiveMin: true, Max: math.Inf(1),
			AtMost: "slo_burn_rate_critical", Default: "5", Roles: []string{roleWebUI}, Reserved: true,
			Doc: "documented global burn-rate warning; read by nothing (use the per-SLO keys)"},
		Key{Name: "slo_burn_rate_critical", Kind: Float, Min: 0, ExclusiveMin: true, Max: math.Inf(1),
			Default: "10", Roles: []string{roleWebUI}, Reserved: true,
			Doc: "documented global burn-rate critical level; read by nothing (use the per-SLO keys)"},
	)
	return keys
}

// sloKeys declares the SLO keys: per-SLO windows, burn rates for the ratio
// SLOs, latency bounds for the two latency SLOs, and the global overrides.
func sloKeys() []Key {
	sloRoles := []string{roleWebUI, roleSLO}
	latencyBounds := map[string][2]string{
		"ingestor_latency_p99":  {"0.75", "1"},
		"forwarder_latency_p99": {"3", "5"},
	}
	positive := func(name, atMost, def, doc string) Key {
		return Key{Name: name, Kind: Float, Min: 0, ExclusiveMin: true, Max: math.Inf(1), AtMost: atMost,
			Default: def, Roles: sloRoles, Doc: doc}
	}
	var keys []Key
	for _, slo := range SLONames() {
		p := "slo_" + slo + "_"
		keys = append(keys, Key{Name: p + "window_hours", Kind: Int, Min: 1, Max: 8760, Default: "24",
			Roles: sloRoles, Doc: "evaluation window in hours of SLO " + slo})
		if b, ok := latencyBounds[slo]; ok {
			keys = append(keys,
				positive(p+"upper_bound_warning", p+"upper_bound_critical", b[0],
					"p99 latency in seconds above which SLO "+slo+" is in warning"),
				positive(p+"upper_bound_critical", "", b[1],
					"p99 latency in seconds above which SLO "+slo+" is critical"))
			continue
		}
		keys = append(keys,
			positive(p+"burn_rate_warning", p+"burn_rate_critical", "5",
				"error-budget burn rate at which SLO "+slo+" is in warning"),
			positive(p+"burn_rate_critical", "", "10",
				"error-budget burn rate at which SLO "+slo+" is critical"))
	}
	target := func(name, def, slo string) Key {
		return Key{Name: name, Kind: Float, Min: 0, Max: 1, ExclusiveMin: true, ExclusiveMax: true, Default: def,
			Roles: sloRoles, Doc: "availability target of SLO " + slo + " (overrides the definition)"}
	}
	keys = append(keys,
		Key{Name: "slo_window_hours", Kind: Int, Min: 1, Max: 8760, Default: "24", Roles: sloRoles,
			Doc: "evaluation window in hours of every SLO without a window key of its own"},
		target("slo_ingest_success_target", "0.999", "ingestor_availability"),
		target("slo_forward_success_target", "0.995", "forwarder_availability"),
	)
	return keys
}

func intKey(name string, lo, hi float64, def, role, doc string) Key {
	return Key{Name: name, Kind: Int, Min: lo, Max: hi, Default: def, Roles: []string{role}, Doc: doc}
}

// Lookup returns the declaration of name.
func Lookup(name string) (Key, bool) {
	keys := Keys()
	i := slices.IndexFunc(keys, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return Key{}, false
	}
	return keys[i], true
}
