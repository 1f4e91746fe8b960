package slo

// Kind says how an SLO's value is judged.
type Kind string

// Kinds of SLO.
const (
	// Ratio SLOs measure a success ratio from 0 to 1 against a target
	// ratio, judged by error-budget burn rate.
	Ratio Kind = "ratio"
	// Latency SLOs measure seconds against a target and two upper bounds.
	Latency Kind = "latency"
)

// Defaults shared by every definition.
const (
	DefaultWindowHours  = 24
	DefaultBurnWarning  = 5.0
	DefaultBurnCritical = 10.0
)

// baseWindow is the range every query is written with; evaluation replaces
// it with the SLO's window.
const baseWindow = "[5m]"

// Definition declares one SLO.
type Definition struct {
	Name        string
	Description string
	Kind        Kind
	// Target is a ratio for Ratio SLOs and seconds for Latency SLOs.
	Target float64
	// Query is PromQL written with the range [5m].
	Query       string
	WindowHours int
	// BurnWarning and BurnCritical are the burn-rate thresholds of a Ratio SLO.
	BurnWarning, BurnCritical float64
	// UpperWarning and UpperCritical are the latency thresholds, in
	// seconds, of a Latency SLO.
	UpperWarning, UpperCritical float64
}

// Names of the SLOs whose targets and components are special-cased.
const (
	IngestorAvailability  = "ingestor_availability"
	ForwarderAvailability = "forwarder_availability"
)

// Definitions returns the six SLOs in evaluation order. The slice is new
// on every call.
func Definitions() []Definition {
	return []Definition{
		{
			Name:        IngestorAvailability,
			Description: "Availability of the Ingestor Service (successful requests)",
			Kind:        Ratio,
			Target:      0.999,
			Query:       "sum(rate(mutt_ingest_requests_total{status='success'}[5m])) / sum(rate(mutt_ingest_requests_total[5m]))",
			WindowHours: DefaultWindowHours, BurnWarning: DefaultBurnWarning, BurnCritical: DefaultBurnCritical,
		},
		{
			Name:        "ingestor_latency_p99",
			Description: "P99 latency of Ingestor Service requests",
			Kind:        Latency,
			Target:      0.5,
			Query:       "histogram_quantile(0.99, sum(rate(mutt_ingest_latency_seconds_bucket[5m])) by (le))",
			WindowHours: DefaultWindowHours, UpperWarning: 0.75, UpperCritical: 1.0,
		},
		{
			Name:        ForwarderAvailability,
			Description: "Availability of the Moog Forwarder Service (successful forwards)",
			Kind:        Ratio,
			Target:      0.995,
			Query:       "sum(rate(mutt_moog_requests_total{status='success'}[5m])) / sum(rate(mutt_moog_requests_total[5m]))",
			WindowHours: DefaultWindowHours, BurnWarning: DefaultBurnWarning, BurnCritical: DefaultBurnCritical,
		},
		{
			Name:        "forwarder_latency_p99",
			Description: "P99 latency of Moog Forwarder requests to Moogsoft",
			Kind:        Latency,
			Target:      2.0,
			Query:       "histogram_quantile(0.99, sum(rate(mutt_moog_request_latency_seconds_bucket[5m])) by (le))",
			WindowHours: DefaultWindowHours, UpperWarning: 3.0, UpperCritical: 5.0,
		},
		{
			Name:        "alerter_processing_success",
			Description: "Success rate of Alerter event processing",
			Kind:        Ratio,
			Target:      0.999,
			Query:       "sum(rate(mutt_alerter_events_processed_total{status='handled'}[5m])) / sum(rate(mutt_alerter_events_processed_total[5m]))",
			WindowHours: DefaultWindowHours, BurnWarning: DefaultBurnWarning, BurnCritical: DefaultBurnCritical,
		},
		{
			// Successful reloads are observed by the latency histogram,
			// failures by their own counter: success = 1 - failures/attempts.
			Name:        "alerter_cache_reload_success",
			Description: "Success rate of Alerter cache reloads",
			Kind:        Ratio,
			Target:      0.99,
			Query: "1 - sum(rate(mutt_alerter_cache_reload_failures_total[5m])) / " +
				"(sum(rate(mutt_alerter_cache_reload_latency_seconds_count[5m])) + sum(rate(mutt_alerter_cache_reload_failures_total[5m])))",
			WindowHours: DefaultWindowHours, BurnWarning: DefaultBurnWarning, BurnCritical: DefaultBurnCritical,
		},
	}
}
