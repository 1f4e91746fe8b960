package sender

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// hostPool is the fixed set of device names synthetic events come from. Its
// size keeps per-host state (hosts, teams, unhandled counters) realistic
// without being trivially small.
var hostPool = [...]string{
	"core-router-01.dc1.example.com",
	"core-router-02.dc1.example.com",
	"dist-switch-01.dc1.example.com",
	"dist-switch-02.dc1.example.com",
	"access-switch-11.campus.example.com",
	"access-switch-12.campus.example.com",
	"access-switch-21.campus.example.com",
	"edge-fw-01.dc1.example.com",
	"edge-fw-02.dc2.example.com",
	"vpn-gw-01.dmz.example.com",
	"wireless-controller-01.campus.example.com",
	"wan-router-03.branch.example.com",
	"wan-router-07.branch.example.com",
	"core-router-01.dc2.example.com",
	"dist-switch-01.dc2.example.com",
	"lb-01.dmz.example.com",
	"radius-server-01.auth.example.com",
	"dhcp-server-01.internal.example.com",
	"storage-switch-01.dc1.example.com",
	"oob-switch-01.dc1.example.com",
}

// severityNames maps the severity digit of a Cisco mnemonic to the text the
// demo data uses in syslog_severity.
var severityNames = [...]string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Info", "Debug"}

// syslogTemplate makes one kind of vendor message; sev is the RFC 5424
// severity encoded in its mnemonic.
type syslogTemplate struct {
	sev  int
	kind string
	make func(r *rand.Rand) string
}

func upDown(r *rand.Rand) string {
	if r.IntN(2) == 0 {
		return "down"
	}
	return "up"
}

var syslogTemplates = [...]syslogTemplate{
	{5, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet%d/%d/%d, changed state to %s",
			r.IntN(2), r.IntN(2), r.IntN(48), upDown(r))
	}},
	{3, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%LINK-3-UPDOWN: Interface GigabitEthernet%d/%d/%d, changed state to %s",
			r.IntN(2), r.IntN(2), r.IntN(48), upDown(r))
	}},
	{5, "cisco-ios", func(r *rand.Rand) string {
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%%BGP-5-ADJCHANGE: neighbor 203.0.113.%d Up", 1+r.IntN(254))
		}
		return fmt.Sprintf("%%BGP-5-ADJCHANGE: neighbor 203.0.113.%d Down BGP Notification sent", 1+r.IntN(254))
	}},
	{3, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%BGP-3-NOTIFICATION: received from neighbor 203.0.113.%d 6/0 (Unspecified Error) 0 bytes", 1+r.IntN(254))
	}},
	{5, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%OSPF-5-ADJCHG: Process 1, Nbr 10.%d.%d.%d on GigabitEthernet0/%d from FULL to DOWN, Neighbor Down: Dead timer expired",
			r.IntN(256), r.IntN(256), 1+r.IntN(254), r.IntN(48))
	}},
	{5, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%SYS-5-CONFIG_I: Configured from console by admin on vty%d (192.168.1.%d)", r.IntN(5), 1+r.IntN(254))
	}},
	{6, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%SEC-6-IPACCESSLOGP: list 101 denied tcp 198.51.100.%d(%d) -> 10.0.%d.%d(%d), 1 packet",
			1+r.IntN(254), 1024+r.IntN(64000), r.IntN(256), 1+r.IntN(254), []int{22, 23, 80, 443, 3389}[r.IntN(5)])
	}},
	{1, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%PLATFORM_ENV-1-FRU_PS_FAIL: FRU Power Supply %d has failed", 1+r.IntN(2))
	}},
	{4, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%ENVMON-4-TEMP_WARNING: Temperature sensor %d reads %d C, above the warning threshold", 1+r.IntN(4), 55+r.IntN(20))
	}},
	{2, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%SYS-2-MALLOCFAIL: Memory allocation of %d bytes failed from 0x%X, alignment 0", 1024*(1+r.IntN(64)), 0x60000000+r.IntN(0xFFFFFF))
	}},
	{5, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%DUAL-5-NBRCHANGE: EIGRP-IPv4 100: Neighbor 10.%d.%d.%d (Vlan%d) is down: holding time expired",
			r.IntN(256), r.IntN(256), 1+r.IntN(254), 10+r.IntN(90))
	}},
	{5, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%HSRP-5-STATECHANGE: Vlan%d Grp %d state Standby -> Active", 10+r.IntN(90), r.IntN(10))
	}},
	{3, "cisco-ios", func(r *rand.Rand) string {
		return fmt.Sprintf("%%SNMP-3-AUTHFAIL: Authentication failure for SNMP req from host 192.0.2.%d", 1+r.IntN(254))
	}},
	{4, "cisco-asa", func(r *rand.Rand) string {
		return fmt.Sprintf("%%ASA-4-106023: Deny tcp src outside:203.0.113.%d/%d dst inside:10.1.%d.%d/%d by access-group \"outside_access_in\"",
			1+r.IntN(254), 1024+r.IntN(64000), r.IntN(256), 1+r.IntN(254), []int{22, 80, 443, 445}[r.IntN(4)])
	}},
	{1, "cisco-asa", func(r *rand.Rand) string {
		return fmt.Sprintf("%%PIX-1-106021: Deny protocol 47 src outside:203.0.113.%d dst inside:192.168.10.%d", 1+r.IntN(254), 1+r.IntN(254))
	}},
}

// trapTemplate makes the collector's message tail (after "<ip> <trap_oid>")
// for one trap type.
type trapTemplate struct {
	oid      string
	severity string
	vars     func(r *rand.Rand) string
}

var trapTemplates = [...]trapTemplate{
	{"1.3.6.1.6.3.1.1.5.3", "Major", func(r *rand.Rand) string {
		return fmt.Sprintf("1.3.6.1.2.1.2.2.1.1=%d 1.3.6.1.2.1.2.2.1.8=2", 1+r.IntN(48))
	}},
	{"1.3.6.1.6.3.1.1.5.4", "Informational", func(r *rand.Rand) string {
		return fmt.Sprintf("1.3.6.1.2.1.2.2.1.1=%d 1.3.6.1.2.1.2.2.1.8=1", 1+r.IntN(48))
	}},
	{"1.3.6.1.6.3.1.1.5.1", "Warning", func(r *rand.Rand) string {
		return fmt.Sprintf("1.3.6.1.2.1.1.3.0=%d", r.IntN(1000000))
	}},
	{"1.3.6.1.6.3.1.1.5.5", "Minor", func(r *rand.Rand) string {
		return fmt.Sprintf("1.3.6.1.6.3.18.1.3.0=192.0.2.%d", 1+r.IntN(254))
	}},
	{"1.3.6.1.4.1.9.9.43.2.0.1", "Informational", func(r *rand.Rand) string {
		return fmt.Sprintf("1.3.6.1.4.1.9.9.43.1.1.6.1.3.%d=1 1.3.6.1.4.1.9.9.43.1.1.6.1.4.%d=2", 1+r.IntN(100), 1+r.IntN(100))
	}},
}

// generatedSyslog is a synthetic syslog event, shaped like the demo data.
type generatedSyslog struct {
	Timestamp      string `json:"timestamp"`
	Hostname       string `json:"hostname"`
	Message        string `json:"message"`
	SyslogSeverity string `json:"syslog_severity"`
	SourceType     string `json:"source_type"`
	Source         string `json:"source"`
}

// generatedBase is the fixed first timestamp of synthetic events; a
// wall-clock base would break determinism. Options.Retimestamp stamps them
// with the send time instead.
var generatedBase = time.Date(2025, 11, 11, 0, 0, 0, 0, time.UTC)

// trapShare is one in trapShare synthetic events being an SNMP trap.
const trapShare = 8

// Generate makes n synthetic events for load tests: hostnames from a fixed
// pool of 20 devices, Cisco-style syslog messages of varied severity, and about
// one in eight events an SNMP trap as the trap collector posts it (with
// trap_oid). The result depends only on n and seed. Timestamps start at
// 2025-11-11T00:00:00Z and advance 10 ms per event; use Options.Retimestamp
// to send them as "now".
func Generate(n int, seed int64) [][]byte {
	if n <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x6d757474))
	out := make([][]byte, 0, n)
	for i := range n {
		hi := r.IntN(len(hostPool))
		ts := generatedBase.Add(time.Duration(i) * 10 * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		var (
			b   []byte
			err error
		)
		if r.IntN(trapShare) == 0 {
			t := trapTemplates[r.IntN(len(trapTemplates))]
			ip := fmt.Sprintf("192.168.1.%d", 10+hi)
			b, err = json.Marshal(trapEvent{
				Timestamp: json.RawMessage(`"` + ts + `"`),
				Hostname:  hostPool[hi],
				Message:   ip + " " + t.oid + " " + t.vars(r),
				TrapOID:   t.oid,
				Severity:  json.RawMessage(`"` + t.severity + `"`),
				Source:    "snmp",
				SourceIP:  ip,
			})
		} else {
			t := syslogTemplates[r.IntN(len(syslogTemplates))]
			b, err = json.Marshal(generatedSyslog{
				Timestamp:      ts,
				Hostname:       hostPool[hi],
				Message:        t.make(r),
				SyslogSeverity: severityNames[t.sev],
				SourceType:     t.kind,
				Source:         "syslog",
			})
		}
		if err != nil {
			// Plain strings always marshal; skipping keeps the no-panic rule.
			continue
		}
		out = append(out, b)
	}
	return out
}
