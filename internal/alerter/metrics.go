package alerter

import "github.com/prometheus/client_golang/prometheus"

var latencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type metrics struct {
	events          *prometheus.CounterVec
	alerts          prometheus.Counter
	metaAlerts      prometheus.Counter
	latency         prometheus.Histogram
	reloadLatency   prometheus.Histogram
	reloads         prometheus.Counter
	reloadFailures  prometheus.Counter
	rulesCount      prometheus.Gauge
	devHostsCount   prometheus.Gauge
	teamsCount      prometheus.Gauge
	dbWriteMillis   prometheus.Histogram
	dlqDepth        prometheus.Gauge
	pendingDepth    prometheus.Gauge
	alertQueueDepth prometheus.Gauge
	ingestDepth     prometheus.Gauge
	shed            *prometheus.CounterVec
	deadLetters     *prometheus.CounterVec
	reclaimed       prometheus.Counter
	batchSize       prometheus.Histogram
}

// Dead-letter reasons, a fixed vocabulary for the reason label.
const (
	reasonInvalid       = "invalid_event"
	reasonMaxRetries    = "max_retries"
	reasonAuditRejected = "audit_rejected"
	reasonShed          = "shed"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_alerter_events_processed_total", Help: "Events processed by outcome.",
		}, []string{"status"}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_alerter_alerts_forwarded_total", Help: "Alerts and meta-alerts pushed to the alert queue.",
		}),
		metaAlerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_alerter_unhandled_meta_alerts_total", Help: "Meta-alerts raised for repeated unhandled messages.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mutt_alerter_processing_latency_seconds", Help: "Time from reading a batch to committing it, per event.",
			Buckets: latencyBuckets,
		}),
		reloadLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mutt_alerter_cache_reload_latency_seconds", Help: "Time to load rules, development hosts and teams.",
			Buckets: []float64{.005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10},
		}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_alerter_cache_reload_total", Help: "Successful cache reloads.",
		}),
		reloadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_alerter_cache_reload_failures_total", Help: "Failed cache reloads.",
		}),
		rulesCount:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_alerter_cache_rules_count", Help: "Active, valid rules in the cache."}),
		devHostsCount: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_alerter_cache_dev_hosts_count", Help: "Development hosts in the cache."}),
		teamsCount:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_alerter_cache_teams_count", Help: "Device teams in the cache."}),
		dbWriteMillis: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mutt_db_write_latency_ms", Help: "Audit batch insert time in milliseconds.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000},
		}),
		dlqDepth:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_alerter_dlq_depth", Help: "Length of the alerter dead-letter queue."}),
		pendingDepth:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_alerter_processing_list_depth", Help: "Ingest messages delivered to alerters and not yet acknowledged."}),
		alertQueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_alerter_queue_depth", Help: "Length of the alert queue (the downstream queue load shedding watches)."}),
		ingestDepth:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_alerter_ingest_queue_depth", Help: "Length of the ingest queue."}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_alerter_shed_events_total", Help: "Load-shedding actions by mode.",
		}, []string{"mode"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_alerter_dead_letters_total", Help: "Messages moved to the alerter dead-letter queue by reason.",
		}, []string{"reason"}),
		reclaimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_alerter_reclaimed_total", Help: "Pending messages taken over from idle consumers.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mutt_alerter_batch_size", Help: "Messages per processed batch.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000},
		}),
	}
	reg.MustRegister(m.events, m.alerts, m.metaAlerts, m.latency, m.reloadLatency, m.reloads, m.reloadFailures,
		m.rulesCount, m.devHostsCount, m.teamsCount, m.dbWriteMillis, m.dlqDepth, m.pendingDepth,
		m.alertQueueDepth, m.ingestDepth, m.shed, m.deadLetters, m.reclaimed, m.batchSize)
	for _, s := range []string{"handled", "unhandled", "poison", "error"} {
		m.events.WithLabelValues(s)
	}
	for _, s := range []string{"dlq", "defer"} {
		m.shed.WithLabelValues(s)
	}
	for _, r := range []string{reasonInvalid, reasonMaxRetries, reasonAuditRejected, reasonShed} {
		m.deadLetters.WithLabelValues(r)
	}
	return m
}
