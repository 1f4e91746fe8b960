package bench

import (
	"maps"
	"testing"
	"time"
)

func TestParseServerStats(t *testing.T) {
	tests := []struct {
		name  string
		info  string
		calls map[string]int64
		cpu   float64
	}{
		{
			name: "commandstats and cpu",
			info: "# Commandstats\r\n" +
				"cmdstat_xadd:calls=2,usec=17,usec_per_call=8.50,rejected_calls=0,failed_calls=0\r\n" +
				"cmdstat_config|resetstat:calls=1,usec=200,usec_per_call=200.00,rejected_calls=0,failed_calls=0\r\n" +
				"\r\n# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.000000\r\n",
			calls: map[string]int64{"xadd": 2, "config|resetstat": 1},
			cpu:   3.75,
		},
		{
			name:  "unknown and malformed lines are skipped",
			info:  "cmdstat_get:usec=3\nnonsense\ncmdstat_set:calls=x\ncmdstat_del:calls=7\nused_cpu_user:abc\n",
			calls: map[string]int64{"del": 7},
		},
		{name: "empty", info: "", calls: map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseServerStats(tt.info)
			if !maps.Equal(got.calls, tt.calls) {
				t.Errorf("calls = %v, want %v", got.calls, tt.calls)
			}
			if got.cpuSecs != tt.cpu {
				t.Errorf("cpu = %v, want %v", got.cpuSecs, tt.cpu)
			}
		})
	}
}

func TestCommandDelta(t *testing.T) {
	tests := []struct {
		name          string
		before, after map[string]int64
		own           map[string]int64
		want          map[string]int64
	}{
		{
			name:   "growth less own commands",
			before: map[string]int64{"xadd": 10, "info": 4},
			after:  map[string]int64{"xadd": 110, "info": 6, "evalsha": 3},
			own:    map[string]int64{"info": 2},
			want:   map[string]int64{"xadd": 100, "evalsha": 3},
		},
		{
			name:   "a reset server never gives negative counts",
			before: map[string]int64{"xadd": 500},
			after:  map[string]int64{"xadd": 20},
			want:   map[string]int64{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := commandDelta(serverStats{calls: tt.before}, serverStats{calls: tt.after}, tt.own)
			if !maps.Equal(got, tt.want) {
				t.Errorf("commandDelta = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestForeignTraffic(t *testing.T) {
	tests := []struct {
		name   string
		ours   map[string]int64
		server map[string]int64
		want   bool
	}{
		{name: "only ours", ours: map[string]int64{"evalsha": 5}, server: map[string]int64{"evalsha": 5, "xadd": 500}, want: false},
		{name: "someone else's scripts", ours: map[string]int64{"evalsha": 5}, server: map[string]int64{"evalsha": 5 + inFlightSlack + 1}, want: true},
		{name: "someone else's transactions", ours: map[string]int64{}, server: map[string]int64{"exec": 100}, want: true},
		// Calls the client counted before the start that reached the server
		// after it.
		{name: "calls in flight at the start", ours: map[string]int64{"evalsha": 500}, server: map[string]int64{"evalsha": 503}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, got := foreignTraffic(counts{byName: map[string]int64{}}, counts{byName: tt.ours}, tt.server)
			if got != tt.want {
				t.Errorf("foreignTraffic = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{name: "none", sorted: nil, p: 50, want: 0},
		{name: "one", sorted: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "median of four is the second", sorted: ms(1, 2, 3, 4), p: 50, want: 2 * time.Millisecond},
		{name: "p99 of 100 is the 99th", sorted: ms(seq(100)...), p: 99, want: 99 * time.Millisecond},
		{name: "p99 of 101 is the 100th", sorted: ms(seq(101)...), p: 99, want: 100 * time.Millisecond},
		{name: "p100 is the maximum", sorted: ms(1, 5, 9), p: 100, want: 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name        string
		line        string
		busy, total time.Duration
	}{
		{
			name: "busy excludes idle and iowait, guest is not counted twice",
			line: "cpu  100 5 50 1000 20 3 2 0 40 0",
			busy: 1600 * time.Millisecond, total: 11800 * time.Millisecond,
		},
		{name: "not the total line", line: "cpu0 1 2 3 4 5", busy: 0, total: 0},
		{name: "garbage", line: "cpu a b c d", busy: 0, total: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			busy, total := parseProcStat(tt.line)
			if busy != tt.busy || total != tt.total {
				t.Errorf("parseProcStat = %v, %v; want %v, %v", busy, total, tt.busy, tt.total)
			}
		})
	}
}

func TestParsePidStat(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		comm  string
		ticks int64
		ok    bool
	}{
		{
			name: "postgres backend",
			line: "2220 (postgres) S 1 2220 2220 0 -1 4194560 1003 0 0 0 120 35 0 0 20 0 1 0 1000 220000000 3000 18446744073709551615",
			comm: "postgres", ticks: 155, ok: true,
		},
		{
			name: "name with spaces and parentheses",
			line: "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 8 0 0 20 0 1 0 5 100 10",
			comm: "a (b) c", ticks: 15, ok: true,
		},
		{name: "truncated", line: "42 (x) R 1 2", ok: false},
		{name: "no name", line: "42 x R", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comm, ticks, ok := parsePidStat(tt.line)
			if ok != tt.ok || (ok && (comm != tt.comm || ticks != tt.ticks)) {
				t.Errorf("parsePidStat = %q, %d, %v; want %q, %d, %v", comm, ticks, ok, tt.comm, tt.ticks, tt.ok)
			}
		})
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {25000.4, "25,000"}, {1234567, "1,234,567"}, {-45678, "-45,678"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := group(tt.in); got != tt.want {
				t.Errorf("group(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRestamp(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "syslog event",
			in:   `{"timestamp":"2025-11-11T00:00:00.000Z","hostname":"h","message":"m"}`,
			want: `{"timestamp":"2026-01-02T03:04:05Z","hostname":"h","message":"m"}`,
		},
		{name: "no timestamp", in: `{"hostname":"h"}`, want: `{"hostname":"h"}`},
		{name: "unterminated", in: `{"timestamp":"2025`, want: `{"timestamp":"2025`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(restamp([]byte(tt.in), "2026-01-02T03:04:05Z")); got != tt.want {
				t.Errorf("restamp = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDatabaseURL(t *testing.T) {
	tests := []struct {
		name, admin, want string
		wantErr           bool
	}{
		{
			name:  "path replaced, query kept",
			admin: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
			want:  "postgres://postgres@127.0.0.1:5432/mutt_bench_x?sslmode=disable",
		},
		{name: "no path", admin: "postgresql://u:p@db", want: "postgresql://u:p@db/mutt_bench_x"},
		{name: "not postgres", admin: "redis://127.0.0.1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := databaseURL(tt.admin, "mutt_bench_x")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("databaseURL = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestWindowMarks(t *testing.T) {
	start := time.Unix(1000, 0)
	w := newWindowMarks(start, 1000, 400)
	for _, p := range []struct {
		n   int64
		sec float64
	}{{100, 0.5}, {399, 1}, {410, 2}, {790, 3}, {800, 4}, {950, 5}, {1000, 6}} {
		w.drained(p.n, start.Add(time.Duration(p.sec*float64(time.Second))))
	}
	got := w.windows()
	want := []Window{
		{From: 0, To: 410, Seconds: 2, EventsPerSecond: 205},
		{From: 410, To: 800, Seconds: 2, EventsPerSecond: 195},
		{From: 800, To: 1000, Seconds: 2, EventsPerSecond: 100},
	}
	if len(got) != len(want) {
		t.Fatalf("windows = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("window %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	var none *windowMarks
	none.drained(5, start)
	if none.windows() != nil || newWindowMarks(start, 10, 0).windows() != nil {
		t.Error("windows without a window size")
	}
}
