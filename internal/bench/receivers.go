package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/sender"
	"github.com/mutt-go/mutt/internal/snmptrap"
	"github.com/mutt-go/mutt/internal/syslog"
)

// Targets of the native receivers.
const (
	TargetSyslogTCPPerSecond = 150_000
	TargetUDPLossPercent     = 0.1
	TargetTrapsPerSecond     = 20_000
	TargetReceiverRSSMB      = 150
)

// ReceiversOptions describe the syslog and trap receiver scenarios.
type ReceiversOptions struct {
	// TCPMessages is how many syslog messages the TCP run sends (default
	// 1,000,000) over TCPConns connections (default 4).
	TCPMessages, TCPConns int
	// UDPRate and UDPSeconds pace the UDP run (default 20,000/s for 10 s).
	UDPRate, UDPSeconds int
	// Traps is how many SNMPv2c traps the trap run sends (default 200,000)
	// at TrapRate a second (default 30,000).
	Traps, TrapRate int
}

func (o *ReceiversOptions) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.TCPMessages, 1_000_000)
	def(&o.TCPConns, 4)
	def(&o.UDPRate, 20_000)
	def(&o.UDPSeconds, 10)
	def(&o.Traps, 200_000)
	def(&o.TrapRate, 30_000)
}

// ReceiverResult is one receiver scenario's outcome.
type ReceiverResult struct {
	ID       string `json:"id"`
	Scenario string `json:"scenario"`
	// Sent is what the load generator sent in the timed part, Queued what
	// reached the ingest stream.
	Sent      int64   `json:"sent"`
	Queued    int64   `json:"queued"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"queued_per_second"`
	// LossPercent is (Sent − Queued) / Sent; KernelDrops what the kernel
	// counted for the receiver's UDP socket.
	LossPercent float64 `json:"loss_percent"`
	KernelDrops float64 `json:"kernel_drops"`
	// PeakRSSMB is the largest resident set of this process sampled during
	// the timed part (the receiver, the ingest producer and the load
	// generator together).
	PeakRSSMB float64  `json:"peak_rss_mb"`
	Target    string   `json:"target"`
	Met       bool     `json:"met"`
	Notes     []string `json:"notes,omitempty"`
}

// ReceiversReport is a run of receiver scenarios beside the Redis ceiling
// measured in the same run.
type ReceiversReport struct {
	Machine Machine   `json:"machine"`
	Started time.Time `json:"started"`
	// RedisXAddPerSecond is the ceiling: stream entries of the same size
	// appended per second with pipelines of 1000 plain XADDs from 4
	// clients of this process.
	RedisXAddPerSecond float64          `json:"redis_xadd_per_second"`
	Results            []ReceiverResult `json:"results"`
}

// TargetMet reports whether every scenario met its target.
func (r *ReceiversReport) TargetMet() bool {
	for _, res := range r.Results {
		if !res.Met {
			return false
		}
	}
	return len(r.Results) > 0
}

// Target lists the targets.
func (r *ReceiversReport) Target() string {
	var t []string
	for _, res := range r.Results {
		t = append(t, res.ID+": "+res.Target)
	}
	return strings.Join(t, "; ")
}

// WriteText renders the report for people.
func (r *ReceiversReport) WriteText(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "MUTT receiver benchmark, %s\nmachine   %d CPUs (%s), %s, %s, Redis %s\n", r.Started.UTC().Format(time.RFC3339),
		m.CPUs, m.CPUModel, m.OS, m.GoVersion, orUnknown(m.Redis))
	fmt.Fprintf(&b, "ceiling   Redis XADD, pipelines of 1000 from 4 clients: %s entries/s\n", group(r.RedisXAddPerSecond))
	for _, res := range r.Results {
		met := "met"
		if !res.Met {
			met = "MISSED"
		}
		fmt.Fprintf(&b, "\n%s: %s\n  sent %s, queued %s in %.2f s: %s/s (%.0f %% of the ceiling)\n  loss %.3f %% (kernel drops %s), peak RSS %.0f MB\n  target %s: %s\n",
			res.ID, res.Scenario, group(float64(res.Sent)), group(float64(res.Queued)), res.Seconds, group(res.PerSecond),
			100*res.PerSecond/max(r.RedisXAddPerSecond, 1), res.LossPercent, group(res.KernelDrops), res.PeakRSSMB, res.Target, met)
		for _, n := range res.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RunReceivers measures the Redis ceiling, then the syslog scenarios
// (TCP throughput, UDP loss at a fixed rate) when syslog is true and the
// trap scenario when traps is true.
func (e *Env) RunReceivers(ctx context.Context, o ReceiversOptions, syslogRuns, trapRuns bool) (*ReceiversReport, error) {
	o.defaults()
	rep := &ReceiversReport{Machine: e.machine, Started: time.Now()}
	ceiling, err := e.xaddCeiling(ctx)
	if err != nil {
		return rep, err
	}
	rep.RedisXAddPerSecond = ceiling
	if syslogRuns {
		res, err := e.runSyslogTCP(ctx, o)
		rep.Results = append(rep.Results, res)
		if err != nil {
			return rep, err
		}
		res, err = e.runSyslogUDP(ctx, o)
		rep.Results = append(rep.Results, res)
		if err != nil {
			return rep, err
		}
	}
	if trapRuns {
		res, err := e.runTraps(ctx, o)
		rep.Results = append(rep.Results, res)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// benchPayload is the size of a normalised syslog event.
var benchPayload = strings.Repeat("x", 420)

func (e *Env) xaddCeiling(ctx context.Context) (float64, error) {
	key := e.cfg.KeyPrefix + ":ceiling"
	defer e.own.Del(context.WithoutCancel(ctx), key)
	const clients, perClient, pipe = 4, 75_000, 1000
	e.say("redis ceiling: %d XADDs in pipelines of %d from %d clients", clients*perClient, pipe, clients)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i += pipe {
				p := e.own.Pipeline()
				for range pipe {
					p.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{queue.PayloadField, benchPayload}})
				}
				if _, err := p.Exec(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("measuring the Redis ceiling: %w", err)
	}
	return float64(clients*perClient) / time.Since(start).Seconds(), nil
}

// receiverRig is a running receiver's feed into the scratch ingest stream.
type receiverRig struct {
	feeder   *ingest.Feeder
	producer *queue.Producer
	reg      *prometheus.Registry
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func (e *Env) newReceiverRig(ctx context.Context) (*receiverRig, context.Context) {
	r := &receiverRig{reg: prometheus.NewRegistry()}
	r.producer = queue.NewProducer(e.rdb, e.cfg.Keys.IngestQueue, queue.ProducerOptions{
		Limit: func() int64 { return 1 << 40 }, MetricsPrefix: e.cfg.Keys.MetricsPrefix,
	})
	r.feeder = ingest.NewFeeder(r.producer, ingest.FeederOptions{RequiredFields: e.cfg.Ingest.RequiredFields})
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() { defer r.wg.Done(); _ = r.feeder.Run(ctx) }()
	return r, ctx
}

func (r *receiverRig) run(ctx context.Context, f func(context.Context) error) {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); _ = f(ctx) }()
}

func (r *receiverRig) stop() {
	r.cancel()
	r.wg.Wait()
	_ = r.producer.Close()
}

// counter reads a counter of the rig's registry summed over the series
// whose labels include every label=value pair given.
func (r *receiverRig) counter(name string, labels ...string) float64 {
	mfs, _ := r.reg.Gather()
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue series
				}
			}
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// waitQueued waits until the stream holds want entries or stops growing
// for quiet, and returns its length and when it last grew.
func (e *Env) waitQueued(ctx context.Context, want int64, quiet time.Duration) (int64, time.Time, error) {
	var last int64 = -1
	lastGrew := time.Now()
	for {
		n, err := e.own.XLen(ctx, e.cfg.Keys.IngestQueue).Result()
		if err != nil {
			return 0, lastGrew, fmt.Errorf("reading the ingest queue length: %w", err)
		}
		if n != last {
			last, lastGrew = n, time.Now()
		}
		if n >= want || time.Since(lastGrew) > quiet {
			return n, lastGrew, nil
		}
		select {
		case <-ctx.Done():
			return n, lastGrew, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// rssSampler records the largest VmRSS of this process.
type rssSampler struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS() *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := vmRSSKB(); kb > s.peak.Load() {
				s.peak.Store(kb)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) peakMB() float64 {
	close(s.stop)
	<-s.done
	return float64(s.peak.Load()) / 1024
}

func vmRSSKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// syslogFrames renders n distinct generated events as RFC 5424 messages,
// each framed with its octet count when counted is true.
func syslogFrames(n int, counted bool) ([][]byte, []byte, error) {
	now := time.Now()
	var msgs [][]byte
	var all bytes.Buffer
	for _, raw := range sender.Generate(n, 3) {
		m, err := sender.FormatSyslog(sender.FormatRFC5424, raw, now)
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, m)
		if counted {
			all.WriteString(strconv.Itoa(len(m)))
			all.WriteByte(' ')
		}
		all.Write(m)
	}
	return msgs, all.Bytes(), nil
}

func (e *Env) runSyslogTCP(ctx context.Context, o ReceiversOptions) (ReceiverResult, error) {
	res := ReceiverResult{ID: "syslog-tcp", Target: fmt.Sprintf("≥ %s messages/s, RSS ≤ %d MB", group(TargetSyslogTCPPerSecond), TargetReceiverRSSMB),
		Scenario: fmt.Sprintf("RFC 5424 over TCP, octet-counted, %d connections, into the ingest stream", o.TCPConns)}
	if err := e.resetKeys(ctx); err != nil {
		return res, err
	}
	defer func() { _ = e.resetKeys(context.WithoutCancel(ctx)) }()
	rig, rctx := e.newReceiverRig(ctx)
	defer rig.stop()
	recv, err := syslog.New(syslog.Options{TCPListen: "127.0.0.1:0"}, rig.feeder, rig.reg, e.logger.With("component", "syslog"))
	if err != nil {
		return res, err
	}
	rig.run(rctx, recv.Run)
	addr := recv.Addrs()["syslog-tcp"]
	_, frames, err := syslogFrames(distinctEvents, true)
	if err != nil {
		return res, err
	}
	passes := max(1, o.TCPMessages/(distinctEvents*o.TCPConns))
	total := int64(passes * distinctEvents * o.TCPConns)
	conns := make([]net.Conn, o.TCPConns)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", addr); err != nil {
			return res, fmt.Errorf("connecting to the syslog receiver: %w", err)
		}
		defer conns[i].Close()
	}
	e.say("%s: warming up with %d messages", res.ID, distinctEvents)
	if _, err := conns[0].Write(frames); err != nil {
		return res, err
	}
	if n, _, err := e.waitQueued(ctx, distinctEvents, 10*time.Second); err != nil || n != distinctEvents {
		return res, fmt.Errorf("warm-up: %d of %d messages queued (%v)", n, distinctEvents, err)
	}
	e.say("%s: sending %d messages", res.ID, total)
	m, err := e.startMeasuring(ctx, res.ID)
	if err != nil {
		return res, err
	}
	defer func() { _, _ = m.stopProfile() }()
	rss := sampleRSS()
	start := time.Now()
	errs := make(chan error, len(conns))
	for _, c := range conns {
		go func() {
			for range passes {
				if _, err := c.Write(frames); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			_ = rss.peakMB()
			return res, fmt.Errorf("sending: %w", err)
		}
	}
	n, at, err := e.waitQueued(ctx, distinctEvents+total, 10*time.Second)
	res.PeakRSSMB = rss.peakMB()
	if err != nil {
		return res, err
	}
	res.Sent, res.Queued = total, n-distinctEvents
	res.Seconds = at.Sub(start).Seconds()
	res.PerSecond = float64(res.Queued) / res.Seconds
	res.LossPercent = 100 * float64(res.Sent-res.Queued) / float64(res.Sent)
	res.Met = res.PerSecond >= TargetSyslogTCPPerSecond && res.PeakRSSMB <= TargetReceiverRSSMB && res.Queued == res.Sent
	res.Notes = append(res.Notes, "the load generator writes from the same process and shares the CPUs with the receiver and Redis")
	return res, nil
}

func (e *Env) runSyslogUDP(ctx context.Context, o ReceiversOptions) (ReceiverResult, error) {
	total := int64(o.UDPRate * o.UDPSeconds)
	res := ReceiverResult{ID: "syslog-udp", Target: fmt.Sprintf("loss < %.1f %%, RSS ≤ %d MB", TargetUDPLossPercent, TargetReceiverRSSMB),
		Scenario: fmt.Sprintf("RFC 5424 over UDP at %s messages/s for %d s", group(float64(o.UDPRate)), o.UDPSeconds)}
	if err := e.resetKeys(ctx); err != nil {
		return res, err
	}
	defer func() { _ = e.resetKeys(context.WithoutCancel(ctx)) }()
	rig, rctx := e.newReceiverRig(ctx)
	defer rig.stop()
	recv, err := syslog.New(syslog.Options{UDPListen: "127.0.0.1:0"}, rig.feeder, rig.reg, e.logger.With("component", "syslog"))
	if err != nil {
		return res, err
	}
	rig.run(rctx, recv.Run)
	msgs, _, err := syslogFrames(distinctEvents, false)
	if err != nil {
		return res, err
	}
	e.say("%s: sending %d datagrams at %d/s", res.ID, total, o.UDPRate)
	if err := e.sendUDP(ctx, &res, recv.Addrs()["syslog-udp"], msgs, total, o.UDPRate); err != nil {
		return res, err
	}
	res.KernelDrops = rig.counter("mutt_syslog_messages_dropped_total", "reason", "kernel")
	res.Met = res.LossPercent < TargetUDPLossPercent && res.PeakRSSMB <= TargetReceiverRSSMB
	return res, nil
}

// sendUDP is the timed part of a UDP scenario: it sends total datagrams
// cycling through msgs at rate a second, waits for the stream, and fills
// res's counts, time, loss and peak RSS.
func (e *Env) sendUDP(ctx context.Context, res *ReceiverResult, addr string, msgs [][]byte, total int64, rate int) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	m, err := e.startMeasuring(ctx, res.ID)
	if err != nil {
		return err
	}
	defer func() { _, _ = m.stopProfile() }()
	rss := sampleRSS()
	start := time.Now()
	if err := paced(ctx, total, rate, func(i int64) error {
		_, err := conn.Write(msgs[i%int64(len(msgs))])
		return err
	}); err != nil {
		_ = rss.peakMB()
		return err
	}
	n, at, err := e.waitQueued(ctx, total, 3*time.Second)
	res.PeakRSSMB = rss.peakMB()
	if err != nil {
		return err
	}
	res.Sent, res.Queued = total, n
	res.Seconds = at.Sub(start).Seconds()
	res.PerSecond = float64(n) / res.Seconds
	res.LossPercent = 100 * float64(total-n) / float64(total)
	return nil
}

// paced calls send total times, spread evenly at rate per second in
// bursts of a millisecond's worth.
func paced(ctx context.Context, total int64, rate int, send func(int64) error) error {
	start := time.Now()
	for i := int64(0); i < total; i++ {
		if i%int64(max(rate/1000, 1)) == 0 {
			due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if err := send(i); err != nil {
			return fmt.Errorf("sending: %w", err)
		}
	}
	return nil
}

func (e *Env) runTraps(ctx context.Context, o ReceiversOptions) (ReceiverResult, error) {
	total := int64(o.Traps)
	res := ReceiverResult{ID: "snmp-traps", Target: fmt.Sprintf("≥ %s traps/s, RSS ≤ %d MB", group(TargetTrapsPerSecond), TargetReceiverRSSMB),
		Scenario: fmt.Sprintf("SNMPv2c traps offered at %s/s, decoded and queued", group(float64(o.TrapRate)))}
	if err := e.resetKeys(ctx); err != nil {
		return res, err
	}
	defer func() { _ = e.resetKeys(context.WithoutCancel(ctx)) }()
	rig, rctx := e.newReceiverRig(ctx)
	defer rig.stop()
	recv, err := snmptrap.New(snmptrap.Options{Listen: "127.0.0.1:0", Communities: []secrets.Secret{secrets.New("bench")}},
		rig.feeder, rig.reg, e.logger.With("component", "snmptrap"))
	if err != nil {
		return res, err
	}
	rig.run(rctx, recv.Run)
	packets, err := trapPackets(1000)
	if err != nil {
		return res, err
	}
	e.say("%s: sending %d traps at %d/s", res.ID, total, o.TrapRate)
	if err := e.sendUDP(ctx, &res, recv.Addr(), packets, total, o.TrapRate); err != nil {
		return res, err
	}
	res.KernelDrops = rig.counter("mutt_snmptrap_dropped_total", "reason", "kernel")
	res.Met = res.PerSecond >= TargetTrapsPerSecond && res.PeakRSSMB <= TargetReceiverRSSMB
	if float64(o.TrapRate) < TargetTrapsPerSecond {
		res.Notes = append(res.Notes, "offered below the target rate, so the target cannot be met")
	}
	return res, nil
}

// trapPackets encodes n SNMPv2c traps made from generated events.
func trapPackets(n int) ([][]byte, error) {
	traps, err := sender.TrapsFrom(sender.Generate(n, 5))
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(traps))
	for i, tr := range traps {
		vars := append([]gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(i)}}, tr.PDUs()...)
		p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "bench", PDUType: gosnmp.SNMPv2Trap,
			RequestID: uint32(i + 1), Variables: vars}
		b, err := p.MarshalMsg()
		if err != nil {
			return nil, fmt.Errorf("encoding a trap: %w", err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("no traps to send")
	}
	return out, nil
}
