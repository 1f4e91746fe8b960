package snmptrap

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/udpsock"
)

// Submitter takes one event object towards the ingest queue; the ingest
// Feeder is the implementation.
type Submitter interface {
	Submit(ctx context.Context, raw []byte, ack ingest.Acker) error
}

var _ Submitter = (*ingest.Feeder)(nil)

// User is one accepted SNMPv3 user. Protocol names are those of
// SNMP_V3_USERS_FILE: MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512 and
// DES, AES, AES-192, AES-256 (or "" for authNoPriv).
type User struct {
	Name                           string
	AuthProtocol, PrivProtocol     string
	AuthPassphrase, PrivPassphrase secrets.Secret
	// EngineID, when not empty, accepts the user only from that engine.
	EngineID []byte
}

// Options configure a Receiver.
type Options struct {
	// Listen is the UDP host:port.
	Listen string
	// Communities are the accepted v1/v2c communities.
	Communities []secrets.Secret
	// Users are the accepted SNMPv3 users.
	Users []User
	// EngineID is this receiver's engine id, reported during the engine
	// discovery that precedes v3 informs; nil derives one from the host.
	EngineID []byte
	// ReadBuffer is the SO_RCVBUF asked for (default 8 MiB).
	ReadBuffer int
	// Workers is how many goroutines read and decode (default 4); each
	// inform holds one until its event is queued.
	Workers int
	// InformTimeout bounds the wait for an inform's event to be queued
	// before it goes unanswered, so that the sender retries (default 5s).
	InformTimeout time.Duration
	// Names names OIDs in messages (nil: the built-in table).
	Names *Names
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Receiver receives SNMP traps and informs and submits each as an event.
type Receiver struct {
	opts     Options
	sub      Submitter
	logger   *slog.Logger
	metrics  *metrics
	conn     *net.UDPConn
	plain    *gosnmp.GoSNMP
	v3       *gosnmp.GoSNMP
	probe    *gosnmp.GoSNMP
	users    map[string][]User
	engineID string
	started  time.Time
	once     sync.Once
	wg       sync.WaitGroup
}

// New checks the credentials, opens the UDP socket and registers the
// receiver's metrics. With no community and no user it refuses: such a
// receiver would accept nothing.
func New(opts Options, sub Submitter, reg prometheus.Registerer, logger *slog.Logger) (*Receiver, error) {
	if len(opts.Communities) == 0 && len(opts.Users) == 0 {
		return nil, errors.New("snmptrap: no community and no SNMPv3 user configured; every trap would be refused")
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.ReadBuffer == 0 {
		opts.ReadBuffer = 8 << 20
	}
	if opts.InformTimeout <= 0 {
		opts.InformTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.EngineID) == 0 {
		opts.EngineID = DefaultEngineID()
	}
	r := &Receiver{opts: opts, sub: sub, logger: logger, metrics: newMetrics(reg), users: map[string][]User{},
		engineID: string(opts.EngineID), started: time.Now()}
	r.plain = &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	r.probe = &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.NoAuthNoPriv,
		SecurityParameters: &gosnmp.UsmSecurityParameters{AuthoritativeEngineID: r.engineID}}
	table := gosnmp.NewSnmpV3SecurityParametersTable(gosnmp.Logger{})
	for _, u := range opts.Users {
		auth, err := authProtocol(u.AuthProtocol)
		if err != nil {
			return nil, fmt.Errorf("snmptrap: user %q: %w", u.Name, err)
		}
		priv, err := privProtocol(u.PrivProtocol)
		if err != nil {
			return nil, fmt.Errorf("snmptrap: user %q: %w", u.Name, err)
		}
		sp := &gosnmp.UsmSecurityParameters{UserName: u.Name, AuthenticationProtocol: auth, PrivacyProtocol: priv,
			AuthenticationPassphrase: u.AuthPassphrase.Reveal(), PrivacyPassphrase: u.PrivPassphrase.Reveal(),
			AuthoritativeEngineID: string(u.EngineID)}
		if err := table.Add(u.Name, sp); err != nil {
			return nil, fmt.Errorf("snmptrap: user %q: %w", u.Name, err)
		}
		r.users[u.Name] = append(r.users[u.Name], u)
	}
	r.v3 = &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel}
	r.v3.SetTrapSecurityParametersTable(table)
	conn, err := udpsock.Listen(context.Background(), opts.Listen, opts.ReadBuffer)
	if err != nil {
		return nil, fmt.Errorf("snmptrap: %w", err)
	}
	r.conn = conn
	r.metrics.kernel = udpsock.Drops(conn)
	return r, nil
}

// DefaultEngineID is an RFC 3411 engine id made from the host name (text
// format under the net-snmp enterprise number), stable across restarts.
func DefaultEngineID() []byte {
	host, _ := os.Hostname()
	id := append([]byte{0x80, 0x00, 0x1f, 0x88, 0x04}, "mutt-"...)
	id = append(id, host...)
	return id[:min(len(id), 32)]
}

// Addr is the address listened on.
func (r *Receiver) Addr() string { return r.conn.LocalAddr().String() }

// EngineID is the engine id reported to v3 senders, in hex.
func (r *Receiver) EngineID() string { return hex.EncodeToString([]byte(r.engineID)) }

// Run receives until ctx ends, then closes the socket and waits for the
// workers.
func (r *Receiver) Run(ctx context.Context) error {
	r.logger.Info("snmptrap listening", "address", r.Addr(), "engine_id", r.EngineID(),
		"communities", len(r.opts.Communities), "v3_users", len(r.opts.Users), "receive_buffer_bytes", udpsock.ReadBuffer(r.conn))
	for range r.opts.Workers {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.read(ctx)
		}()
	}
	<-ctx.Done()
	r.Close()
	r.wg.Wait()
	return nil
}

// Close closes the socket. Safe to call twice.
func (r *Receiver) Close() error {
	r.once.Do(func() { _ = r.conn.Close() })
	return nil
}

func (r *Receiver) read(ctx context.Context) {
	buf := make([]byte, 65536)
	var obj []byte
	for {
		n, addr, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			r.logger.Warn("reading SNMP datagram", "error", err)
			continue
		}
		obj = r.safeHandle(ctx, buf[:n], addr, obj[:0])
	}
}

// safeHandle is handle that survives a panic in the decoder on a crafted
// datagram: the datagram is counted as malformed and the worker goes on.
func (r *Receiver) safeHandle(ctx context.Context, msg []byte, addr netip.AddrPort, obj []byte) (out []byte) {
	defer func() {
		if p := recover(); p != nil {
			r.metrics.rejected.WithLabelValues(reasonMalformed).Inc()
			r.logger.Warn("SNMP datagram crashed the decoder; dropped", "source_ip", addr.Addr().String(), "panic", fmt.Sprint(p))
			out = obj[:0]
		}
	}()
	return r.handle(ctx, msg, addr, obj)
}

// handle decodes one datagram and submits its event; it returns obj for
// reuse.
func (r *Receiver) handle(ctx context.Context, msg []byte, addr netip.AddrPort, obj []byte) []byte {
	m := r.metrics
	reject := func(reason string) []byte {
		m.rejected.WithLabelValues(reason).Inc()
		return obj
	}
	h, err := peekHeader(msg)
	if err != nil {
		m.received.WithLabelValues("unknown").Inc()
		return reject(reasonMalformed)
	}
	version := map[int]string{0: "1", 1: "2c", 3: "3"}[h.version]
	m.received.WithLabelValues(version).Inc()
	peer := addr.Addr().Unmap().String()
	var pkt *gosnmp.SnmpPacket
	switch h.version {
	case 0, 1:
		if pkt, err = r.plain.UnmarshalTrap(msg, false); err != nil {
			return reject(reasonMalformed)
		}
		if !r.communityOK(pkt.Community) {
			r.logger.Debug("SNMP trap with a wrong community", "source_ip", peer)
			return reject(reasonCommunity)
		}
	case 3:
		if h.msgFlags&byte(gosnmp.Reportable) != 0 && h.msgFlags&byte(gosnmp.AuthPriv) == 0 && len(h.user) == 0 && len(h.engineID) == 0 {
			r.discover(msg, addr)
			return obj
		}
		users, ok := r.users[string(h.user)]
		if !ok {
			r.logger.Debug("SNMPv3 message from an unknown user", "source_ip", peer, "user", string(h.user))
			return reject(reasonUnknownUser)
		}
		if !engineAllowed(users, h.engineID) {
			return reject(reasonEngine)
		}
		if h.msgFlags&byte(gosnmp.AuthNoPriv) == 0 {
			return reject(reasonNoAuth)
		}
		// gosnmp decrypts in place; keep the datagram intact for a retry
		// with the next credentials of the same user name.
		if pkt, err = r.v3.UnmarshalTrap(bytes.Clone(msg), false); err != nil {
			r.logger.Debug("SNMPv3 message failed authentication", "source_ip", peer, "user", string(h.user), "error", err)
			return reject(reasonAuth)
		}
	}
	switch pkt.PDUType {
	case gosnmp.Trap, gosnmp.SNMPv2Trap, gosnmp.InformRequest:
	default:
		return reject(reasonPDUType)
	}
	m.parsed.WithLabelValues(version).Inc()
	n := newNotification(pkt, peer)
	ts := r.opts.Now().UTC().AppendFormat([]byte{'"'}, time.RFC3339Nano)
	ts = append(ts, '"')
	obj = n.appendEvent(obj, r.opts.Names, ts)
	if pkt.PDUType != gosnmp.InformRequest {
		if err := r.sub.Submit(ctx, obj, trapAck{m}); err != nil {
			r.submitFailed(err)
		}
		return obj
	}
	ack := make(informAck, 1)
	if err := r.sub.Submit(ctx, obj, ack); err != nil {
		r.submitFailed(err)
		return obj
	}
	t := time.NewTimer(r.opts.InformTimeout)
	defer t.Stop()
	select {
	case err := <-ack:
		if err != nil {
			m.shutdown.Add(1)
			return obj
		}
	case <-t.C:
		// Not answered: the sender retries, and the event queued later
		// makes at most a duplicate (at least once, as everywhere).
		m.informTimeouts.Add(1)
		return obj
	case <-ctx.Done():
		m.shutdown.Add(1)
		return obj
	}
	m.enqueued.WithLabelValues("inform").Inc()
	r.respond(pkt, addr)
	return obj
}

func (r *Receiver) submitFailed(err error) {
	if ingest.IsInvalid(err) {
		r.metrics.rejected.WithLabelValues(reasonInvalid).Inc()
		return
	}
	r.metrics.shutdown.Add(1)
}

// informAck carries an inform's outcome back to the worker waiting on it.
type informAck chan error

func (a informAck) Ack(err error) { a <- err }

// respond answers an inform with the same PDU as a Response.
func (r *Receiver) respond(pkt *gosnmp.SnmpPacket, addr netip.AddrPort) {
	pkt.PDUType = gosnmp.GetResponse
	pkt.Error, pkt.ErrorIndex = gosnmp.NoError, 0
	pkt.MsgFlags &^= gosnmp.Reportable
	b, err := pkt.MarshalMsg()
	if err != nil {
		r.logger.Warn("encoding inform response", "error", err)
		return
	}
	if _, err := r.conn.WriteToUDPAddrPort(b, addr); err != nil {
		r.logger.Warn("sending inform response", "error", err)
		return
	}
	r.metrics.informsAcked.Inc()
}

// discover answers an engine discovery request (RFC 3414 section 4) with a
// Report carrying this receiver's engine id, boots and time.
func (r *Receiver) discover(msg []byte, addr netip.AddrPort) {
	pkt, err := r.probe.UnmarshalTrap(msg, false)
	if err != nil {
		r.metrics.rejected.WithLabelValues(reasonMalformed).Inc()
		return
	}
	usm, ok := pkt.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if !ok {
		return
	}
	rep := *pkt
	rep.SecurityParameters = &gosnmp.UsmSecurityParameters{AuthoritativeEngineID: r.engineID,
		AuthoritativeEngineBoots: 1, AuthoritativeEngineTime: uint32(time.Since(r.started) / time.Second),
		UserName: usm.UserName}
	rep.PDUType = gosnmp.Report
	rep.MsgFlags = gosnmp.NoAuthNoPriv
	rep.ContextEngineID = r.engineID
	rep.Variables = []gosnmp.SnmpPDU{{Name: ".1.3.6.1.6.3.15.1.1.4.0", Type: gosnmp.Counter32, Value: uint32(r.metrics.discoveryN.Add(1))}}
	b, err := rep.MarshalMsg()
	if err != nil {
		r.logger.Warn("encoding engine discovery report", "error", err)
		return
	}
	if _, err := r.conn.WriteToUDPAddrPort(b, addr); err == nil {
		r.metrics.discoveries.Inc()
	}
}

// communityOK compares against every accepted community in constant time.
func (r *Receiver) communityOK(c string) bool {
	ok := false
	for _, s := range r.opts.Communities {
		if s.Equal(c) {
			ok = true
		}
	}
	return ok
}

func engineAllowed(users []User, engine []byte) bool {
	for _, u := range users {
		if len(u.EngineID) == 0 || bytes.Equal(u.EngineID, engine) {
			return true
		}
	}
	return false
}

func authProtocol(name string) (gosnmp.SnmpV3AuthProtocol, error) {
	switch strings.ToUpper(name) {
	case "MD5":
		return gosnmp.MD5, nil
	case "SHA", "SHA1", "SHA-1":
		return gosnmp.SHA, nil
	case "SHA-224", "SHA224":
		return gosnmp.SHA224, nil
	case "SHA-256", "SHA256":
		return gosnmp.SHA256, nil
	case "SHA-384", "SHA384":
		return gosnmp.SHA384, nil
	case "SHA-512", "SHA512":
		return gosnmp.SHA512, nil
	}
	return 0, fmt.Errorf("unknown auth_protocol %q", name)
}

func privProtocol(name string) (gosnmp.SnmpV3PrivProtocol, error) {
	switch strings.ToUpper(name) {
	case "":
		return gosnmp.NoPriv, nil
	case "DES":
		return gosnmp.DES, nil
	case "AES", "AES-128", "AES128":
		return gosnmp.AES, nil
	case "AES-192", "AES192":
		return gosnmp.AES192, nil
	case "AES-256", "AES256":
		return gosnmp.AES256, nil
	}
	return 0, fmt.Errorf("unknown priv_protocol %q", name)
}
