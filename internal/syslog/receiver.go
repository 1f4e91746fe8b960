package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/udpsock"
)

// Submitter takes one event object towards the ingest queue; the ingest
// Feeder is the implementation.
type Submitter interface {
	Submit(ctx context.Context, raw []byte, ack ingest.Acker) error
}

var _ Submitter = (*ingest.Feeder)(nil)

// Options configure a Receiver. An empty listen address leaves that
// transport off; at least one must be set.
type Options struct {
	UDPListen, TCPListen, TLSListen string
	// TLS is the server configuration of the TLS listener (certificate,
	// optional client CAs).
	TLS *tls.Config
	// MaxMessageBytes bounds one message (default 128 KiB).
	MaxMessageBytes int
	// MaxConnections bounds open TCP and TLS connections (default 1000).
	MaxConnections int
	// UDPReadBuffer is the SO_RCVBUF asked for (default 16 MiB).
	UDPReadBuffer int
	// UDPReaders is how many goroutines read the UDP socket (default 2).
	UDPReaders int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Receiver listens for syslog on UDP, TCP and TLS and hands every message
// to the ingest feeder as one event.
type Receiver struct {
	opts    Options
	sub     Submitter
	logger  *slog.Logger
	metrics *metrics
	udp     *net.UDPConn
	tcp     net.Listener
	tls     net.Listener

	udpM, tcpM, tlsM *transportMetrics
	slots            chan struct{}

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New opens the configured sockets (so a port in use fails here, before
// anything runs) and registers the receiver's metrics on reg.
func New(opts Options, sub Submitter, reg prometheus.Registerer, logger *slog.Logger) (*Receiver, error) {
	if opts.UDPListen == "" && opts.TCPListen == "" && opts.TLSListen == "" {
		return nil, errors.New("syslog: no listen address set (SYSLOG_UDP_LISTEN, SYSLOG_TCP_LISTEN or SYSLOG_TLS_LISTEN)")
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 128 << 10
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 1000
	}
	if opts.UDPReadBuffer == 0 {
		opts.UDPReadBuffer = 16 << 20
	}
	if opts.UDPReaders <= 0 {
		opts.UDPReaders = 2
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Receiver{opts: opts, sub: sub, logger: logger, metrics: newMetrics(reg),
		slots: make(chan struct{}, opts.MaxConnections), conns: map[net.Conn]struct{}{}}
	ctx := context.Background()
	var err error
	if opts.UDPListen != "" {
		r.udpM = r.metrics.transport(TransportUDP)
		if r.udp, err = udpsock.Listen(ctx, opts.UDPListen, opts.UDPReadBuffer); err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		r.metrics.drops.kernel = udpsock.Drops(r.udp)
	}
	if opts.TCPListen != "" {
		r.tcpM = r.metrics.transport(TransportTCP)
		if r.tcp, err = net.Listen("tcp", opts.TCPListen); err != nil {
			r.Close()
			return nil, fmt.Errorf("syslog: listening on tcp %s: %w", opts.TCPListen, err)
		}
	}
	if opts.TLSListen != "" {
		if opts.TLS == nil {
			r.Close()
			return nil, errors.New("syslog: SYSLOG_TLS_LISTEN is set without a TLS configuration")
		}
		r.tlsM = r.metrics.transport(TransportTLS)
		ln, err := net.Listen("tcp", opts.TLSListen)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("syslog: listening on tls %s: %w", opts.TLSListen, err)
		}
		r.tls = tls.NewListener(ln, opts.TLS)
	}
	return r, nil
}

// Addrs returns the addresses listened on, by endpoint name (syslog-udp,
// syslog-tcp, syslog-tls).
func (r *Receiver) Addrs() map[string]string {
	out := map[string]string{}
	if r.udp != nil {
		out["syslog-udp"] = r.udp.LocalAddr().String()
	}
	if r.tcp != nil {
		out["syslog-tcp"] = r.tcp.Addr().String()
	}
	if r.tls != nil {
		out["syslog-tls"] = r.tls.Addr().String()
	}
	return out
}

// Run receives until ctx ends, then closes the sockets and every
// connection and returns once all its goroutines are done.
func (r *Receiver) Run(ctx context.Context) error {
	if r.udp != nil {
		r.logger.Info("syslog listening", "transport", TransportUDP, "address", r.udp.LocalAddr().String(),
			"receive_buffer_bytes", udpsock.ReadBuffer(r.udp))
		for range r.opts.UDPReaders {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.readUDP(ctx)
			}()
		}
	}
	for _, l := range []struct {
		ln net.Listener
		tm *transportMetrics
	}{{r.tcp, r.tcpM}, {r.tls, r.tlsM}} {
		if l.ln == nil {
			continue
		}
		r.logger.Info("syslog listening", "transport", l.tm.name, "address", l.ln.Addr().String())
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.accept(ctx, l.ln, l.tm)
		}()
	}
	<-ctx.Done()
	r.Close()
	r.wg.Wait()
	return nil
}

// Close closes the sockets and open connections. Safe to call twice.
func (r *Receiver) Close() error {
	r.closeOnce.Do(func() {
		if r.udp != nil {
			_ = r.udp.Close()
		}
		if r.tcp != nil {
			_ = r.tcp.Close()
		}
		if r.tls != nil {
			_ = r.tls.Close()
		}
		r.mu.Lock()
		for c := range r.conns {
			_ = c.Close()
		}
		r.mu.Unlock()
	})
	return nil
}

// worker is one goroutine's parsing state.
type worker struct {
	parser *Parser
	obj    ingest.Object
}

func newWorker() *worker { return &worker{parser: NewParser()} }

// handle turns one message into an event and submits it. It blocks while
// the feeder's buffer is full, which is what slows a stream's sender.
func (r *Receiver) handle(ctx context.Context, w *worker, frame []byte, peer Peer, tm *transportMetrics) {
	tm.received.Inc()
	now := r.opts.Now()
	m, err := w.parser.Parse(frame, now)
	if err != nil {
		tm.empty.Inc()
		return
	}
	tm.parsed.Inc()
	js := AppendEvent(&w.obj, m, peer, now)
	if err := r.sub.Submit(ctx, js, tm); err != nil {
		if ingest.IsInvalid(err) {
			tm.invalid.Inc()
			r.logger.Debug("syslog message refused", "transport", tm.name, "source_ip", peer.IP, "error", err)
			return
		}
		tm.shutdown.Add(1)
	}
}

func (r *Receiver) readUDP(ctx context.Context) {
	w := newWorker()
	buf := make([]byte, 65536)
	var lastAddr netip.Addr
	peer := Peer{Transport: TransportUDP}
	for {
		n, addr, err := r.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			r.logger.Warn("reading syslog datagram", "error", err)
			continue
		}
		if a := addr.Addr().Unmap(); a != lastAddr || peer.IP == "" {
			lastAddr, peer.IP = a, a.String()
		}
		if n > r.opts.MaxMessageBytes {
			r.udpM.received.Inc()
			r.udpM.tooLarge.Inc()
			continue
		}
		r.handle(ctx, w, buf[:n], peer, r.udpM)
	}
}

func (r *Receiver) accept(ctx context.Context, ln net.Listener, tm *transportMetrics) {
	delay := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, do not spin.
			r.logger.Warn("accepting syslog connection", "transport", tm.name, "error", err)
			time.Sleep(delay)
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		select {
		case r.slots <- struct{}{}:
		default:
			r.metrics.refusedConns.WithLabelValues(tm.name).Inc()
			_ = c.Close()
			continue
		}
		r.mu.Lock()
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() {
				r.mu.Lock()
				delete(r.conns, c)
				r.mu.Unlock()
				_ = c.Close()
				<-r.slots
			}()
			r.serveConn(ctx, c, tm)
		}()
	}
}

func (r *Receiver) serveConn(ctx context.Context, c net.Conn, tm *transportMetrics) {
	gauge := r.metrics.connections.WithLabelValues(tm.name)
	gauge.Inc()
	defer gauge.Dec()
	peer := Peer{Transport: tm.name}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		peer.IP = ap.Addr().Unmap().String()
	}
	if tc, ok := c.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.HandshakeContext(ctx); err != nil {
			r.metrics.tlsFailures.Inc()
			r.logger.Warn("syslog TLS handshake failed", "source_ip", peer.IP, "error", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	w := newWorker()
	f := NewFramer(c, r.opts.MaxMessageBytes)
	for {
		frame, err := f.Next()
		switch {
		case err == nil:
			r.handle(ctx, w, frame, peer, tm)
		case errors.Is(err, ErrFrameTooLarge):
			tm.received.Inc()
			tm.tooLarge.Inc()
		case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || ctx.Err() != nil:
			return
		default:
			if errors.Is(err, io.ErrUnexpectedEOF) {
				tm.framing.Inc()
			}
			r.logger.Debug("syslog connection ended", "transport", tm.name, "source_ip", peer.IP, "error", err)
			return
		}
	}
}
