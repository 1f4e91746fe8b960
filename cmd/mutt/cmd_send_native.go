package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/sender"
)

// nativeSendOptions are the flags of `mutt send` that test the syslog and
// SNMP receivers instead of the HTTP API.
type nativeSendOptions struct {
	syslogURL        string
	rfc5424, rfc3164 bool
	caFile           string
	certFile         string
	keyFile          string
	trap             string
	inform           bool
}

func (o *nativeSendOptions) register(f *pflag.FlagSet) {
	f.StringVar(&o.syslogURL, "syslog", "", "send as syslog to udp://host:port, tcp://host:port or tls://host:port instead of HTTP")
	f.BoolVar(&o.rfc5424, "rfc5424", false, "with --syslog: RFC 5424 messages (the default)")
	f.BoolVar(&o.rfc3164, "rfc3164", false, "with --syslog: RFC 3164 (BSD) messages")
	f.StringVar(&o.caFile, "tls-ca-file", "", "with tls://: CA certificates (PEM) to trust instead of the system's")
	f.StringVar(&o.certFile, "tls-cert-file", "", "with tls://: client certificate (PEM) for mutual TLS")
	f.StringVar(&o.keyFile, "tls-key-file", "", "with tls://: client key (PEM)")
	f.StringVar(&o.trap, "trap", "", "send SNMPv2c traps to host:port instead of HTTP (community from SNMP_COMMUNITY, default public)")
	f.BoolVar(&o.inform, "inform", false, "with --trap: send informs and wait for each acknowledgement")
}

func (o *nativeSendOptions) active() bool { return o.syslogURL != "" || o.trap != "" }

// Check rejects contradictory flags.
func (o *nativeSendOptions) Check() error {
	if o.syslogURL != "" && o.trap != "" {
		return errors.New("--syslog and --trap exclude each other")
	}
	if o.rfc5424 && o.rfc3164 {
		return errors.New("--rfc5424 and --rfc3164 exclude each other")
	}
	if (o.rfc5424 || o.rfc3164) && o.syslogURL == "" {
		return errors.New("--rfc5424 and --rfc3164 need --syslog")
	}
	if o.inform && o.trap == "" {
		return errors.New("--inform needs --trap")
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return errors.New("--tls-cert-file and --tls-key-file go together")
	}
	return nil
}

func (o *nativeSendOptions) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca-file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca-file %s holds no PEM certificate", o.caFile)
		}
	}
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert-file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// runNativeSend sends files' events (or generated ones) as syslog or traps.
func (g *globalOptions) runNativeSend(ctx context.Context, o nativeSendOptions, files []string, generate int, seed int64, repeat int, rate float64) error {
	if err := o.Check(); err != nil {
		return usageError{err}
	}
	var events [][]byte
	var traps []sender.Trap
	var err error
	if len(files) > 0 {
		if o.trap != "" {
			if traps, err = sender.LoadTraps(files...); err != nil {
				return err
			}
		} else if events, err = sender.Load(files...); err != nil {
			return err
		}
	}
	if generate > 0 {
		gen := sender.Generate(generate, seed)
		if o.trap != "" {
			more, err := sender.TrapsFrom(gen)
			if err != nil {
				return err
			}
			traps = append(traps, more...)
		} else {
			events = append(events, gen...)
		}
	}
	var sum sender.NativeSummary
	if o.trap != "" {
		community := "public"
		if c, ok, err := secrets.FromEnv(os.LookupEnv, "SNMP_COMMUNITY"); err != nil {
			return usageError{err}
		} else if ok {
			community = c.Reveal()
		}
		sum, err = sender.SendTraps(ctx, sender.TrapOptions{Target: o.trap, Community: community, Inform: o.inform,
			Traps: traps, Repeat: repeat, Rate: rate})
	} else {
		opts := sender.SyslogOptions{URL: o.syslogURL, Format: sender.FormatRFC5424, Events: events, Repeat: repeat, Rate: rate}
		if o.rfc3164 {
			opts.Format = sender.FormatRFC3164
		}
		if opts.TLS, err = o.tlsConfig(); err != nil {
			return usageError{err}
		}
		sum, err = sender.SendSyslog(ctx, opts)
	}
	fmt.Fprintln(g.stdout, sum.String())
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d of %d messages failed", sum.Failed, sum.Messages)
	}
	return nil
}
