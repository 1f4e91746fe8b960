package rules

import "testing"

const (
	benchMessage     = "%LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/0/0, changed state to down"
	benchUnhandled   = "%SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.20.30.40)"
	benchTrapMessage = "clogMessageGenerated"
)

func benchSnapshot(b *testing.B) *Snapshot {
	b.Helper()
	s, errs := Compile(loadRules(b, "rules50.json"), sampleDevHosts, sampleTeams)
	if len(errs) != 0 || s.RuleCount() != 50 {
		b.Fatalf("Compile: %d rules, errors %v", s.RuleCount(), errs)
	}
	return s
}

func benchDecide(b *testing.B, ev Event, wantRule int64) {
	s := benchSnapshot(b)
	if got := ruleID(s.Decide(ev).Rule); got != wantRule {
		b.Fatalf("Decide matched rule %d, want %d", got, wantRule)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Decide(ev)
	}
}

// BenchmarkDecide50Rules matches the last rule in priority order, so every contains and regex
// rule is tried first.
func BenchmarkDecide50Rules(b *testing.B) {
	benchDecide(b, Event{Hostname: "router1.prod.example.com", Message: benchMessage, Severity: 5}, 30)
}

// BenchmarkDecideUnhandled50Rules falls through all 50 rules.
func BenchmarkDecideUnhandled50Rules(b *testing.B) {
	benchDecide(b, Event{Hostname: "router1.prod.example.com", Message: benchUnhandled, Severity: 5}, 0)
}

// BenchmarkDecideTrap50Rules matches an oid_prefix rule early in the order.
func BenchmarkDecideTrap50Rules(b *testing.B) {
	benchDecide(b, Event{Hostname: "router1.prod.example.com", Message: benchTrapMessage,
		TrapOID: "1.3.6.1.4.1.9.9.41.2.0.1", Severity: -1}, 43)
}

// BenchmarkDecideParallel50Rules shows that concurrent readers of one snapshot do not contend.
func BenchmarkDecideParallel50Rules(b *testing.B) {
	s := benchSnapshot(b)
	ev := Event{Hostname: "router1.prod.example.com", Message: benchMessage, Severity: 5}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Decide(ev)
		}
	})
}

func BenchmarkCompile50Rules(b *testing.B) {
	rules := loadRules(b, "rules50.json")
	b.ReportAllocs()
	for b.Loop() {
		Compile(rules, sampleDevHosts, sampleTeams)
	}
}
