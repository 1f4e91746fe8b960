// Package syslog is MUTT's native syslog receiver: UDP, TCP and TLS
// listeners (RFC 6587 octet-counting and LF framing on streams, told apart
// frame by frame), a parser for RFC 5424 and RFC 3164 with auto-detection
// and the variants real devices send (Cisco IOS sequence numbers and
// `*`/`.` timestamps, Cisco ASA/FTD, Juniper, Fortinet key=value, Palo Alto
// CSV, Linux and haproxy, no PRI, no hostname, RFC 3339 timestamps), and
// the conversion of each message into one ingest event handed to the
// ingest feeder, which validates it and assigns its _event_id as for HTTP.
//
// Strict RFC 5424 is parsed by github.com/leodido/go-syslog; the BSD
// format and the vendor variants, which no maintained parser accepts as a
// whole, are parsed here.
//
// It must not import the alerter, rules or store packages.
package syslog
