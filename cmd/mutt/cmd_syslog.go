package main

import (
	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
)

// syslogOptions are the flags of `mutt syslog`; each, when given, wins
// over the environment and the configuration file.
type syslogOptions struct {
	udp, tcp, tls, admin string
}

func (o syslogOptions) apply(c *config.Config) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Syslog.UDPListen, o.udp)
	set(&c.Syslog.TCPListen, o.tcp)
	set(&c.Syslog.TLSListen, o.tls)
	set(&c.Syslog.AdminListen, o.admin)
}

func newSyslogCommand(g *globalOptions) *cobra.Command {
	var o syslogOptions
	cmd := &cobra.Command{
		Use:   "syslog",
		Short: "Receive syslog over UDP, TCP and TLS into the ingest queue (health and metrics on 8091)",
		Long: `Receive syslog (RFC 5424, RFC 3164 and the variants of Cisco, Juniper, Fortinet,
Palo Alto, Linux and haproxy) on the transports whose address is set, and queue
each message as an event. TCP and TLS use RFC 6587 framing (octet counting or LF).
/health and /metrics are served on SYSLOG_ADMIN_LISTEN (default :8091).`,
		Example: `  SYSLOG_UDP_LISTEN=:5514 SYSLOG_TCP_LISTEN=:5514 mutt syslog
  mutt syslog --udp :514 --tls :6514   # with SYSLOG_TLS_CERT_FILE and SYSLOG_TLS_KEY_FILE`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.overrides = append(g.overrides, o.apply)
			return g.serve(cmd.Context(), []string{app.RoleSyslog}, false, false)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.udp, "udp", "", "UDP listen address (env SYSLOG_UDP_LISTEN)")
	f.StringVar(&o.tcp, "tcp", "", "TCP listen address (env SYSLOG_TCP_LISTEN)")
	f.StringVar(&o.tls, "tls", "", "TLS listen address (env SYSLOG_TLS_LISTEN)")
	f.StringVar(&o.admin, "admin", "", "address of /health and /metrics (env SYSLOG_ADMIN_LISTEN, default :8091)")
	return cmd
}
