package remediation

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	loops         prometheus.Counter
	depth         *prometheus.GaugeVec
	replaySuccess prometheus.Counter
	replayFail    *prometheus.CounterVec
	poison        prometheus.Counter
	moogHealth    prometheus.Gauge
	duration      prometheus.Histogram
	replayed      *prometheus.CounterVec
	dead          *prometheus.CounterVec
}

// Reasons of mutt_remediation_replay_fail_total.
const failRedis = "redis_error"

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		loops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_remediation_loops_total", Help: "Remediation cycles started.",
		}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mutt_remediation_dlq_depth", Help: "Entries in each dead-letter queue, measured every cycle.",
		}, []string{"dlq_name"}),
		replaySuccess: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_remediation_replay_success_total", Help: "Dead-letter entries replayed to their queue.",
		}),
		replayFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_remediation_replay_fail_total", Help: "Replay steps that failed, by reason.",
		}, []string{"reason"}),
		poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_remediation_poison_messages_total", Help: "Dead-letter entries moved to the terminal dead queue.",
		}),
		moogHealth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mutt_remediation_moog_health", Help: "1 when the last Moogsoft probe passed (or probing is off), else 0.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mutt_remediation_loop_duration_seconds", Help: "Duration of a remediation cycle.",
			Buckets: []float64{.005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10},
		}),
		replayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_remediation_replayed_total", Help: "Dead-letter entries replayed, by the queue they went back to.",
		}, []string{"queue"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_remediation_dead_total", Help: "Entries moved to the terminal dead queue, by the reason recorded there.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.loops, m.depth, m.replaySuccess, m.replayFail, m.poison, m.moogHealth, m.duration, m.replayed, m.dead)
	return m
}
