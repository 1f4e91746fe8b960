package syslog

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Transports.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
	TransportTLS = "tls"
)

// Rejection reasons, the fixed vocabulary of the reason label.
const (
	reasonTooLarge = "too_large"
	reasonEmpty    = "empty"
	reasonInvalid  = "invalid" // refused by the ingest validation
	reasonFraming  = "framing"
)

// metrics are the receiver's series, by transport.
type metrics struct {
	received, parsed, enqueued *prometheus.CounterVec
	rejected                   *prometheus.CounterVec
	connections                *prometheus.GaugeVec
	refusedConns               *prometheus.CounterVec
	tlsFailures                prometheus.Counter
	drops                      *dropCollector
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_syslog_messages_received_total", Help: "Syslog messages (datagrams or frames) received, by transport.",
		}, []string{"transport"}),
		parsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_syslog_messages_parsed_total", Help: "Syslog messages parsed into an event, by transport.",
		}, []string{"transport"}),
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_syslog_messages_enqueued_total", Help: "Syslog events appended to the ingest queue, by transport.",
		}, []string{"transport"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_syslog_messages_rejected_total", Help: "Syslog messages refused, by transport and reason (too_large, empty, invalid, framing).",
		}, []string{"transport", "reason"}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mutt_syslog_connections", Help: "Open TCP and TLS connections.",
		}, []string{"transport"}),
		refusedConns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_syslog_connections_refused_total", Help: "Connections closed at once because SYSLOG_MAX_CONNECTIONS were open.",
		}, []string{"transport"}),
		tlsFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_syslog_tls_handshake_failures_total", Help: "TLS handshakes that failed (bad or missing client certificate, protocol errors).",
		}),
		drops: &dropCollector{desc: prometheus.NewDesc("mutt_syslog_messages_dropped_total",
			"Syslog messages lost after they reached the host, by transport and reason: kernel (UDP receive buffer full, from /proc/net/udp) or shutdown (still unqueued when the receiver stopped).",
			[]string{"transport", "reason"}, nil)},
	}
	reg.MustRegister(m.received, m.parsed, m.enqueued, m.rejected, m.connections, m.refusedConns, m.tlsFailures, m.drops)
	return m
}

// transportMetrics are one transport's counters, resolved once.
type transportMetrics struct {
	name                       string
	received, parsed, enqueued prometheus.Counter
	tooLarge, empty, invalid   prometheus.Counter
	framing                    prometheus.Counter
	shutdown                   *atomic.Uint64
}

func (m *metrics) transport(name string) *transportMetrics {
	t := &transportMetrics{
		name: name, received: m.received.WithLabelValues(name), parsed: m.parsed.WithLabelValues(name),
		enqueued: m.enqueued.WithLabelValues(name),
		tooLarge: m.rejected.WithLabelValues(name, reasonTooLarge), empty: m.rejected.WithLabelValues(name, reasonEmpty),
		invalid: m.rejected.WithLabelValues(name, reasonInvalid), framing: m.rejected.WithLabelValues(name, reasonFraming),
		shutdown: new(atomic.Uint64),
	}
	if name != TransportUDP {
		m.connections.WithLabelValues(name)
		m.refusedConns.WithLabelValues(name)
	}
	m.drops.add(name, t.shutdown)
	return t
}

// Ack implements ingest.Acker: one event in the queue, or given up.
func (t *transportMetrics) Ack(err error) {
	if err == nil {
		t.enqueued.Inc()
		return
	}
	t.shutdown.Add(1)
}

// dropCollector reports drops counted here and those the kernel counted.
type dropCollector struct {
	desc     *prometheus.Desc
	shutdown []struct {
		transport string
		n         *atomic.Uint64
	}
	kernel func() (uint64, bool)
}

func (d *dropCollector) add(transport string, n *atomic.Uint64) {
	d.shutdown = append(d.shutdown, struct {
		transport string
		n         *atomic.Uint64
	}{transport, n})
}

func (d *dropCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d *dropCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range d.shutdown {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(s.n.Load()), s.transport, "shutdown")
	}
	if d.kernel != nil {
		if n, ok := d.kernel(); ok {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(n), TransportUDP, "kernel")
		}
	}
}
