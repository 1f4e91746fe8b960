package sender

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGenerate(t *testing.T) {
	tests := []struct {
		name string
		n    int
		seed int64
	}{
		{name: "one", n: 1, seed: 1},
		{name: "small", n: 50, seed: 7},
		{name: "load-sized", n: 1000, seed: 42},
		{name: "negative seed", n: 100, seed: -3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := Generate(tt.n, tt.seed)
			if len(evs) != tt.n {
				t.Fatalf("Generate(%d) made %d events", tt.n, len(evs))
			}
			again := Generate(tt.n, tt.seed)
			if !slices.EqualFunc(evs, again, bytes.Equal) {
				t.Fatal("Generate is not deterministic for one seed")
			}
			hosts := map[string]bool{}
			traps := 0
			var prev time.Time
			for i, ev := range evs {
				if _, err := compactObject(ev); err != nil || bytes.ContainsAny(ev, "\r\n") {
					t.Fatalf("event %d is not a one-line JSON object: %q", i, ev)
				}
				m := decodeObject(t, ev)
				requireMuttFields(t, i, m)
				hosts[m["hostname"].(string)] = true
				ts, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string))
				if err != nil {
					t.Fatalf("event %d timestamp: %v", i, err)
				}
				if !ts.After(prev) {
					t.Errorf("event %d timestamp %s does not advance past %s", i, ts, prev)
				}
				prev = ts
				if oid, ok := m["trap_oid"].(string); ok {
					traps++
					if !strings.Contains(m["message"].(string), " "+oid) {
						t.Errorf("trap %d message %q lacks its trap_oid %s", i, m["message"], oid)
					}
				} else if msg := m["message"].(string); !strings.HasPrefix(msg, "%") {
					t.Errorf("syslog event %d message %q is not Cisco-style", i, msg)
				}
			}
			if tt.n >= 1000 {
				if len(hosts) < 10 {
					t.Errorf("only %d distinct hostnames in %d events", len(hosts), tt.n)
				}
				if traps == 0 || traps > tt.n/2 {
					t.Errorf("%d of %d events are traps, want some but a minority", traps, tt.n)
				}
			}
		})
	}
}

func TestGenerateSeedsDiffer(t *testing.T) {
	a, b := Generate(100, 1), Generate(100, 2)
	if slices.EqualFunc(a, b, bytes.Equal) {
		t.Error("seeds 1 and 2 made the same events")
	}
	if got := Generate(0, 1); len(got) != 0 {
		t.Errorf("Generate(0) made %d events", len(got))
	}
	if got := Generate(-5, 1); len(got) != 0 {
		t.Errorf("Generate(-5) made %d events", len(got))
	}
}
