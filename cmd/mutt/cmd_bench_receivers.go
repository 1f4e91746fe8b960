package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/bench"
)

// receiverBenchCommands are `mutt bench syslog` and `mutt bench traps`.
func receiverBenchCommands(g *globalOptions, bo *benchOptions) []*cobra.Command {
	var o bench.ReceiversOptions
	syslogCmd := &cobra.Command{
		Use:   "syslog",
		Short: "Measure the syslog receiver: TCP messages/s into the ingest stream, UDP loss at a fixed rate",
		Long: `Measure the Redis ceiling (pipelined XADDs of an event-sized entry), then run the syslog
receiver in this process, as the syslog role wires it, and send it RFC 5424 messages made
from generated events: over --tcp-conns TCP connections as fast as they go (octet-counted
frames; target 150,000 messages/s into the ingest stream), then over UDP at --udp-rate for
--udp-seconds (target: loss below 0.1 %). Peak RSS is sampled during each run (target
150 MB).`,
		Example: `  mutt bench syslog --tcp-messages 1000000 --udp-rate 20000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBenchScenario(cmd.Context(), *bo, func(ctx context.Context, env *bench.Env) (scenarioReport, error) {
				return env.RunReceivers(ctx, o, true, false)
			})
		},
	}
	f := syslogCmd.Flags()
	f.IntVar(&o.TCPMessages, "tcp-messages", 1_000_000, "messages of the TCP run")
	f.IntVar(&o.TCPConns, "tcp-conns", 4, "TCP connections of the TCP run")
	f.IntVar(&o.UDPRate, "udp-rate", 20_000, "datagrams per second of the UDP run")
	f.IntVar(&o.UDPSeconds, "udp-seconds", 10, "length of the UDP run")

	trapsCmd := &cobra.Command{
		Use:   "traps",
		Short: "Measure the SNMP trap receiver: traps/s decoded and queued",
		Long: `Measure the Redis ceiling, then run the snmptrap receiver in this process and send it
--traps SNMPv2c traps made from generated events at --rate a second; report traps/s decoded
and queued (target 20,000), loss and peak RSS (target 150 MB).`,
		Example: `  mutt bench traps --traps 200000 --rate 30000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBenchScenario(cmd.Context(), *bo, func(ctx context.Context, env *bench.Env) (scenarioReport, error) {
				return env.RunReceivers(ctx, o, false, true)
			})
		},
	}
	f = trapsCmd.Flags()
	f.IntVar(&o.Traps, "traps", 200_000, "traps to send")
	f.IntVar(&o.TrapRate, "rate", 30_000, "traps per second offered")
	return []*cobra.Command{syslogCmd, trapsCmd}
}
