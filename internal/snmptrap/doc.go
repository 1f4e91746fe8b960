// Package snmptrap is MUTT's SNMP notification receiver: SNMPv1, v2c and
// v3 (USM, every auth and priv protocol of net-snmp) traps and informs on
// UDP. PDUs are decoded by github.com/gosnmp/gosnmp; this package checks
// the community or v3 user, answers v3 engine discovery, converts v1 traps
// to a v2 snmpTrapOID (RFC 3584 section 3.1), renders a readable message,
// and hands every notification to the ingest feeder as one event, which
// validates it and assigns its _event_id as for HTTP. An inform is
// acknowledged only once its event is in the ingest queue.
//
// It must not import the alerter, rules or store packages.
package snmptrap
