package snmptrap

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Rejection reasons, the fixed vocabulary of the reason label.
const (
	reasonMalformed   = "malformed"
	reasonCommunity   = "community"
	reasonUnknownUser = "unknown_user"
	reasonEngine      = "unknown_engine"
	reasonAuth        = "auth"
	reasonNoAuth      = "no_auth" // v3 without authentication is not accepted
	reasonPDUType     = "pdu_type"
	reasonInvalid     = "invalid" // refused by the ingest validation
)

var versions = []string{"1", "2c", "3"}

type metrics struct {
	received, parsed *prometheus.CounterVec
	rejected         *prometheus.CounterVec
	enqueued         *prometheus.CounterVec
	informsAcked     prometheus.Counter
	discoveries      prometheus.Counter
	shutdown         atomic.Uint64
	informTimeouts   atomic.Uint64
	discoveryN       atomic.Uint64 // usmStatsUnknownEngineIDs
	dropDesc         *prometheus.Desc
	kernel           func() (uint64, bool)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_snmptrap_received_total", Help: "SNMP messages received on the trap port, by version (unknown when unreadable).",
		}, []string{"version"}),
		parsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_snmptrap_parsed_total", Help: "Traps and informs decoded and accepted, by version.",
		}, []string{"version"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_snmptrap_rejected_total", Help: "SNMP messages refused, by reason (malformed, community, unknown_user, unknown_engine, auth, no_auth, pdu_type, invalid).",
		}, []string{"reason"}),
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_snmptrap_enqueued_total", Help: "Trap and inform events appended to the ingest queue, by PDU type.",
		}, []string{"pdu_type"}),
		informsAcked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_snmptrap_informs_acknowledged_total", Help: "Informs answered, each after its event was in the ingest queue.",
		}),
		discoveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_snmptrap_engine_discoveries_total", Help: "SNMPv3 engine discovery requests answered with this receiver's engine id.",
		}),
		dropDesc: prometheus.NewDesc("mutt_snmptrap_dropped_total",
			"Notifications lost after they reached the host, by reason: kernel (UDP receive buffer full, from /proc/net/udp), inform_timeout (not queued in time, so not acknowledged: the sender retries) or shutdown.",
			[]string{"reason"}, nil),
	}
	reg.MustRegister(m.received, m.parsed, m.rejected, m.enqueued, m.informsAcked, m.discoveries, m)
	for _, v := range versions {
		m.received.WithLabelValues(v)
		m.parsed.WithLabelValues(v)
	}
	m.received.WithLabelValues("unknown")
	for _, r := range []string{reasonMalformed, reasonCommunity, reasonUnknownUser, reasonEngine, reasonAuth, reasonNoAuth, reasonPDUType, reasonInvalid} {
		m.rejected.WithLabelValues(r)
	}
	m.enqueued.WithLabelValues("trap")
	m.enqueued.WithLabelValues("inform")
	return m
}

// Describe implements prometheus.Collector for the drop counts.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.dropDesc }

// Collect implements prometheus.Collector for the drop counts.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(m.dropDesc, prometheus.CounterValue, float64(m.shutdown.Load()), "shutdown")
	ch <- prometheus.MustNewConstMetric(m.dropDesc, prometheus.CounterValue, float64(m.informTimeouts.Load()), "inform_timeout")
	if m.kernel != nil {
		if n, ok := m.kernel(); ok {
			ch <- prometheus.MustNewConstMetric(m.dropDesc, prometheus.CounterValue, float64(n), "kernel")
		}
	}
}

// trapAck counts a queued trap (informs have their own acker).
type trapAck struct{ m *metrics }

func (a trapAck) Ack(err error) {
	if err == nil {
		a.m.enqueued.WithLabelValues("trap").Inc()
		return
	}
	a.m.shutdown.Add(1)
}
