package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/snmptrap"
	"github.com/mutt-go/mutt/internal/syslog"
)

// The native receiver roles; `mutt serve` runs each when its listen
// address is set.
const (
	RoleSyslog   = "syslog"
	RoleSNMPTrap = "snmptrap"
)

// receiverRoles are the roles the configuration switches on.
func receiverRoles(cfg config.Config) []string {
	var roles []string
	if cfg.Syslog.Enabled() {
		roles = append(roles, RoleSyslog)
	}
	if cfg.SNMP.Enabled() {
		roles = append(roles, RoleSNMPTrap)
	}
	return roles
}

// requireReceivers checks, before anything connects, that the receiver
// roles asked for can run: a listen address, and for SNMP some credential.
func requireReceivers(cfg config.Config, roles []string) error {
	if slices.Contains(roles, RoleSyslog) && !cfg.Syslog.Enabled() {
		return &config.FieldError{Field: "SYSLOG_UDP_LISTEN", Rule: "the syslog role needs SYSLOG_UDP_LISTEN, SYSLOG_TCP_LISTEN or SYSLOG_TLS_LISTEN"}
	}
	if slices.Contains(roles, RoleSNMPTrap) {
		if !cfg.SNMP.Enabled() {
			return &config.FieldError{Field: "SNMP_TRAP_LISTEN", Rule: "the snmptrap role needs SNMP_TRAP_LISTEN"}
		}
		return cfg.RequireSNMPCredentials()
	}
	return nil
}

// receiverFeeder returns the ingest feeder the receivers share, starting
// it (and its producer) on first use.
func (s *Server) receiverFeeder(run func(string, func(context.Context) error)) *ingest.Feeder {
	if s.feeder != nil {
		return s.feeder
	}
	cfg := s.cfg
	producer, closeProducer := s.ingestProducer()
	s.feeder = ingest.NewFeeder(producer, ingest.FeederOptions{
		RequiredFields: cfg.Ingest.RequiredFields, Logger: s.logger.With("component", "receivers"),
	})
	run("ingest feeder", func(ctx context.Context) error {
		// The producer outlives the feeder's last drain.
		defer closeProducer()
		return s.feeder.Run(ctx)
	})
	return s.feeder
}

// receiverHealth is the /health and /metrics handler of a receiver role.
func (s *Server) receiverHealth(service string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /health", obs.HealthHandler(
		map[string]any{"service": service, "version": obs.APIVersion, "pod": s.cfg.PodName},
		s.storageCheck(),
		obs.Check{Name: "Ingest queue", Check: func(context.Context) error {
			if s.feeder != nil && s.feeder.Stalled() {
				return errors.New("the ingest queue refuses events (over its cap or its storage unreachable); senders are being held back")
			}
			return nil
		}},
	))
	mux.Handle("GET /metrics", obs.MetricsHandler(s.reg))
	return mux
}

func (s *Server) startSyslog(listen func(string, string, http.Handler) error, run func(string, func(context.Context) error), addrs map[string]string) error {
	c := s.cfg.Syslog
	opts := syslog.Options{UDPListen: c.UDPListen, TCPListen: c.TCPListen, TLSListen: c.TLSListen,
		MaxMessageBytes: c.MaxMessageBytes, MaxConnections: c.MaxConnections, UDPReadBuffer: c.UDPReadBuffer}
	if c.TLSListen != "" {
		tc, err := syslogTLS(c)
		if err != nil {
			return err
		}
		opts.TLS = tc
	}
	recv, err := syslog.New(opts, s.receiverFeeder(run), s.reg, s.logger.With("component", "syslog"))
	if err != nil {
		return err
	}
	for k, v := range recv.Addrs() {
		addrs[k] = v
	}
	run("syslog", recv.Run)
	return listen("syslog-admin", c.AdminListen, s.receiverHealth("mutt-syslog"))
}

// syslogTLS loads the TLS listener's certificate and, when configured,
// the client CAs that make it mutual.
func syslogTLS(c config.Syslog) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, &config.FieldError{Field: "SYSLOG_TLS_CERT_FILE", Rule: fmt.Sprintf("loading the certificate and SYSLOG_TLS_KEY_FILE: %v", err)}
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSClientCAFile != "" {
		pem, err := os.ReadFile(c.TLSClientCAFile)
		if err != nil {
			return nil, &config.FieldError{Field: "SYSLOG_TLS_CLIENT_CA_FILE", Rule: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &config.FieldError{Field: "SYSLOG_TLS_CLIENT_CA_FILE", Rule: "holds no PEM certificate"}
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

func (s *Server) startSNMPTrap(listen func(string, string, http.Handler) error, run func(string, func(context.Context) error), addrs map[string]string) error {
	c := s.cfg.SNMP
	users, err := c.V3Users()
	if err != nil {
		return err
	}
	opts := snmptrap.Options{Listen: c.TrapListen, Communities: c.CommunityList(), ReadBuffer: c.UDPReadBuffer}
	for _, u := range users {
		eng, _ := decodeEngineID(u.EngineID) // checked by Validate
		opts.Users = append(opts.Users, snmptrap.User{Name: u.User, AuthProtocol: u.AuthProtocol, AuthPassphrase: u.AuthPassphrase,
			PrivProtocol: u.PrivProtocol, PrivPassphrase: u.PrivPassphrase, EngineID: eng})
	}
	if opts.EngineID, err = decodeEngineID(c.EngineID); err != nil {
		return &config.FieldError{Field: "SNMP_ENGINE_ID", Rule: err.Error()}
	}
	if len(c.MIBDirs) > 0 {
		if opts.Names, err = snmptrap.LoadNames(c.MIBDirs); err != nil {
			return &config.FieldError{Field: "SNMP_MIB_DIRS", Rule: err.Error()}
		}
	}
	recv, err := snmptrap.New(opts, s.receiverFeeder(run), s.reg, s.logger.With("component", "snmptrap"))
	if err != nil {
		return err
	}
	addrs["snmptrap"] = recv.Addr()
	run("snmptrap", recv.Run)
	return listen("snmptrap-admin", c.AdminListen, s.receiverHealth("mutt-snmptrap"))
}

func decodeEngineID(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
}
