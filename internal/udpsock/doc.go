// Package udpsock opens the UDP sockets of MUTT's receivers (syslog, SNMP
// traps) with a large receive buffer and reports what the kernel dropped
// for them, so that UDP loss is counted rather than silent.
//
// It must not import other MUTT packages.
package udpsock
