// Package syslog is MUTT's native syslog receiver: UDP, TCP and TLS
// listeners (RFC 6587 octet-counting and LF framing on streams, told apart
// frame by frame), a parser for RFC 5424 and RFC 3164 with auto-detection
// and the variants real devices send (Cisco IOS sequence numbers and
// `*`/`.` timestamps, Cisco ASA/FTD, Juniper, Fortinet key=value, Palo Alto
// CSV, Linux and haproxy, no PRI, no hostname, RFC 3339 timestamps), and
// the conversion of each message into one ingest event handed to the
// ingest feeder, which validates it and assigns its _event_id as for HTTP.
//
// Every format is parsed here, without allocating except for RFC 5424
// structured data: github.com/leodido/go-syslog, the maintained parser
// generated from RFC 5424's grammar, cost 5 µs and 23 allocations a
// message (the whole CPU budget of 150,000 messages/s on two cores) and
// accepts none of the BSD variants. It remains the reference: a fuzz test
// checks that every message it accepts is read the same here.
//
// It must not import the alerter, rules or store packages.
package syslog
