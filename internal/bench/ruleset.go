package bench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mutt-go/mutt/internal/rules"
)

// matchingRules are written for the events sender.Generate makes: together
// they match about 43 % of them, and about 29 % are forwarded (prod hosts).
// Shares: each of the 15 syslog kinds is 7/8 × 1/15 ≈ 5.8 % of events, each
// of the 5 trap kinds 1/8 × 1/5 = 2.5 %.
var matchingRules = []rules.Rule{
	{MatchString: "%LINEPROTO-5-UPDOWN", MatchType: rules.Contains, Priority: 40,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", Team: "NetOps"},
	{MatchString: "%LINK-3-UPDOWN", Severity: intPtr(3), MatchType: rules.Contains, Priority: 45,
		ProdHandling: "Ticket_only", DevHandling: "Ignore", Team: "NetOps"},
	// Only the "Down" half of the adjacency changes.
	{MatchString: `%BGP-5-ADJCHANGE: neighbor \S+ Down`, MatchType: rules.Regex, Priority: 50,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", Team: "NetOps"},
	{MatchString: `%(?:PLATFORM_ENV-1-FRU_PS_FAIL|SYS-2-MALLOCFAIL)`, MatchType: rules.Regex, Priority: 30,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", Team: "Hardware"},
	{MatchString: "%SEC-6-IPACCESSLOGP", MatchType: rules.Contains, Priority: 80,
		ProdHandling: "Log_only", DevHandling: "Ignore", Team: "Security"},
	{MatchString: `%ASA-\d-1060(?:21|23)`, MatchType: rules.Regex, Priority: 85,
		ProdHandling: "Ignore", DevHandling: "Ignore", Team: "Security"},
	{TrapOID: "1.3.6.1.6.3.1.1.5.3", MatchType: rules.OIDPrefix, Priority: 20,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", Team: "NetOps"},
	{TrapOID: ".1.3.6.1.6.3.1.1.5.4", MatchType: rules.OIDPrefix, Priority: 25,
		ProdHandling: "Ignore", DevHandling: "Ignore", Team: "NetOps"},
}

// fillerRules match nothing sender.Generate makes, like most rules of a real
// rule set match nothing in a given minute; most sort before the matching
// ones, so every event is tried against many of them.
var fillerRules = []rules.Rule{
	contains("%SYS-3-CPUHOG", 5), contains("%PLATFORM-2-PS_FAIL", 6), contains("%ENVMON-1-FAN_FAILURE", 7),
	contains("%C4K_IOSMODPORTMAN-4-TEMPHIGH", 8), contains("%STP-2-ROOTGUARD_BLOCK", 9),
	contains("%SW_MATM-4-MACFLAP_NOTIF", 10), contains("%CDP-4-DUPLEX_MISMATCH", 11),
	contains("%DOT1X-5-FAIL", 12), contains("%ILPOWER-5-POWER_GRANTED", 13),
	contains("%STACKMGR-4-SWITCH_REMOVED", 14), contains("%FAN-3-FAN_FAILED", 15),
	contains("%IPPHONE-6-UNREGISTER_NORMAL", 16), contains("%SPANTREE-2-BLOCK_BPDUGUARD", 17),
	contains("%PM-4-ERR_DISABLE", 18), contains("%ETHCNTR-3-LOOP_BACK_DETECTED", 19),
	contains("%CRYPTO-4-RECVD_PKT_INV_SPI", 21), contains("%TRACKING-5-STATE", 22),
	contains("%LINK-5-CHANGED", 23), contains("%DHCP_SNOOPING-5-DHCP_SNOOPING_UNTRUSTED_PORT", 24),
	contains("Authentication failed for user", 26), contains("%MCU-1-FAILURE", 27),
	regex(`%SFF8472-5-THRESHOLD_VIOLATION: \S+ (?:Rx|Tx) power`, 28),
	regex(`%(?:IOSXE|IOSD)-[0-3]-\w+_CRASH`, 29), regex(`%IF-4-BACKWARD_COUNT|%IF-4-NOBUFFERS`, 31),
	regex(`%VPN_HW-1-PACKET_ERROR: slot: \d+`, 32), regex(`%FW-6-DROP_PKT: Dropping \w+ session`, 33),
	regex(`%OSPF-4-ERRRCV|%OSPF-4-CONFLICTING_LSAID`, 34), regex(`%QOS-\d-(?:OUT_OF_MEMORY|POLICY_FAIL)`, 35),
	regex(`(?:temperature|voltage) (?:critical|shutdown) (?:limit|threshold) exceeded`, 36),
	regex(`%SNMP-[0-3]-(?:COMMUNITY|ACCESS)_DENIED`, 37), regex(`%ISIS-\d-ADJCHANGE`, 38),
	regex(`%MPLS_TE-5-LSP: .* (?:DOWN|REROUTED)`, 39),
	oidPrefix("1.3.6.1.4.1.9.9.117.2.0.1", 41), oidPrefix("1.3.6.1.4.1.9.9.13.3.0.5", 42),
	oidPrefix("1.3.6.1.4.1.2636.4.1.1", 43), oidPrefix("1.3.6.1.4.1.9.9.187.0.1", 44),
	oidPrefix("1.3.6.1.4.1.9.9.41.2.0.1", 46), oidPrefix("1.3.6.1.2.1.14.16.2.2", 47),
	oidPrefix("1.3.6.1.4.1.30065.4.1.1", 48), oidPrefix("1.3.6.1.4.1.25506.2.6.2", 49),
	{MatchString: "%HA_EM-", Severity: intPtr(1), MatchType: rules.Contains, Priority: 89,
		ProdHandling: "Page_only", DevHandling: "Ignore", Team: "NetOps"},
	{MatchString: "%ENTITY_ALARM-", Severity: intPtr(2), MatchType: rules.Contains, Priority: 90,
		ProdHandling: "Ticket_only", DevHandling: "Ignore", Team: "Hardware"},
	contains("%MAB-5-FAIL", 91), contains("%PORT_SECURITY-2-PSECURE_VIOLATION", 92),
	regex(`%SYS-4-CONFIG_RESOLVE_FAILURE`, 93), contains("%DOT11-4-MAXRETRIES", 94),
}

// devHosts are development hosts among sender.Generate's devices, so some
// events take the dev handling.
var devHosts = []string{"access-switch-21.campus.example.com", "wan-router-07.branch.example.com"}

// deviceTeams assign some of sender.Generate's devices to teams.
var deviceTeams = map[string]string{
	"edge-fw-01.dc1.example.com":        "Security",
	"edge-fw-02.dc2.example.com":        "Security",
	"radius-server-01.auth.example.com": "Security",
	"lb-01.dmz.example.com":             "AppNet",
}

// RuleSet returns n rules (all active): the rules that match about 43 % of
// the events sender.Generate makes, then rules that match none of them,
// mixing contains, regex and oid_prefix rules and a few with a severity
// filter. IDs are left zero for the database to assign. With n below the
// number of matching rules, fewer events match.
func RuleSet(n int) []rules.Rule {
	out := make([]rules.Rule, 0, n)
	for i := 0; len(out) < n; i++ {
		var r rules.Rule
		switch {
		case i < len(matchingRules):
			r = matchingRules[i]
		case i-len(matchingRules) < len(fillerRules):
			r = fillerRules[i-len(matchingRules)]
		default:
			// Past the list: more rules for mnemonics that never occur.
			r = contains(fmt.Sprintf("%%BENCH-%d-NEVER_SEEN", i), 100+i)
		}
		if r.Severity != nil {
			// The tables above are shared; the caller gets its own copy.
			r.Severity = intPtr(*r.Severity)
		}
		r.Active = true
		out = append(out, r)
	}
	return out
}

// PagingRuleSet returns RuleSet(n-1) with every rule paging in both
// environments, then a catch-all rule (regex ".", tried last) that pages
// too: every event sender.Generate makes is handled and forwarded, one
// audit row and one alert each, as on a site whose rules page for
// everything they see. Events are still tried against the rules in order,
// so matching costs what it does with RuleSet(n).
func PagingRuleSet(n int) []rules.Rule {
	out := RuleSet(max(n-1, 0))
	for i := range out {
		out[i].ProdHandling, out[i].DevHandling = pagingHandling, pagingHandling
	}
	return append(out, rules.Rule{MatchString: ".", MatchType: rules.Regex, Priority: catchAllPriority,
		ProdHandling: pagingHandling, DevHandling: pagingHandling, Team: "NetOps", Active: true})
}

// pagingHandling is the handling of every rule of PagingRuleSet.
const pagingHandling = "Page_and_ticket"

// catchAllPriority sorts PagingRuleSet's catch-all after every other rule.
const catchAllPriority = 10_000

// loadRuleSet replaces the rules, development hosts and device teams of the
// scratch database with set and the bench hosts, in one transaction.
func loadRuleSet(ctx context.Context, pool *pgxpool.Pool, set []rules.Rule) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "TRUNCATE event_audit_log, alert_rules, development_hosts, device_teams RESTART IDENTITY"); err != nil {
			return fmt.Errorf("emptying rule tables: %w", err)
		}
		b := &pgx.Batch{}
		for _, r := range set {
			var sev *int32
			if r.Severity != nil {
				v := int32(*r.Severity)
				sev = &v
			}
			b.Queue(`INSERT INTO alert_rules (match_string, trap_oid, syslog_severity, match_type, priority,
				prod_handling, dev_handling, team_assignment, is_active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				nullable(r.MatchString), nullable(r.TrapOID), sev, string(r.MatchType), r.Priority,
				r.ProdHandling, r.DevHandling, r.Team, r.Active)
		}
		for _, h := range devHosts {
			b.Queue(`INSERT INTO development_hosts (hostname) VALUES ($1)`, h)
		}
		for h, t := range deviceTeams {
			b.Queue(`INSERT INTO device_teams (hostname, team_assignment) VALUES ($1, $2)`, h, t)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("inserting bench rules: %w", err)
		}
		return nil
	})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intPtr(v int) *int { return &v }

func contains(s string, priority int) rules.Rule {
	return rules.Rule{MatchString: s, MatchType: rules.Contains, Priority: priority,
		ProdHandling: "Ticket_only", DevHandling: "Ignore", Team: "NetOps"}
}

func regex(s string, priority int) rules.Rule {
	return rules.Rule{MatchString: s, MatchType: rules.Regex, Priority: priority,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", Team: "NetOps"}
}

func oidPrefix(oid string, priority int) rules.Rule {
	return rules.Rule{TrapOID: oid, MatchType: rules.OIDPrefix, Priority: priority,
		ProdHandling: "Page_and_ticket", DevHandling: "Ignore", Team: "NetOps"}
}
