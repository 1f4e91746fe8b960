package main

import (
	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
)

// snmptrapOptions are the flags of `mutt snmptrap`.
type snmptrapOptions struct {
	listen, admin string
}

func (o snmptrapOptions) apply(c *config.Config) {
	if o.listen != "" {
		c.SNMP.TrapListen = o.listen
	}
	if o.admin != "" {
		c.SNMP.AdminListen = o.admin
	}
}

func newSNMPTrapCommand(g *globalOptions) *cobra.Command {
	var o snmptrapOptions
	cmd := &cobra.Command{
		Use:   "snmptrap",
		Short: "Receive SNMP v1/v2c/v3 traps and informs into the ingest queue (health and metrics on 8092)",
		Long: `Receive SNMP traps and informs on UDP and queue each as an event. Communities come
from SNMP_COMMUNITIES (or SNMP_COMMUNITIES_FILE), SNMPv3 users from SNMP_V3_USERS_FILE;
with neither it refuses to start (exit 2). An inform is answered only once its event
is in the ingest queue. /health and /metrics are served on SNMP_ADMIN_LISTEN (default :8092).`,
		Example: `  SNMP_COMMUNITIES_FILE=/etc/mutt/communities mutt snmptrap --listen :162
  SNMP_V3_USERS_FILE=/etc/mutt/snmp-users.yaml mutt snmptrap --listen :10162`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.overrides = append(g.overrides, o.apply)
			return g.serve(cmd.Context(), []string{app.RoleSNMPTrap}, false, false)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "UDP listen address (env SNMP_TRAP_LISTEN)")
	f.StringVar(&o.admin, "admin", "", "address of /health and /metrics (env SNMP_ADMIN_LISTEN, default :8092)")
	return cmd
}
