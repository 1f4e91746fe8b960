package snmptrap

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
)

// rig is a running receiver feeding a test's own ingest stream.
type rig struct {
	t      *testing.T
	rdb    *redis.Client
	stream string
	recv   *Receiver
}

var testUsers = []User{
	{Name: "mutt-sha-aes", AuthProtocol: "SHA", AuthPassphrase: secrets.New("auth-pass-123"), PrivProtocol: "AES", PrivPassphrase: secrets.New("priv-pass-456")},
	{Name: "mutt-sha256", AuthProtocol: "SHA-256", AuthPassphrase: secrets.New("auth-pass-789")},
}

func newRig(t *testing.T, opts Options) *rig {
	t.Helper()
	rdb, prefix := itest.Redis(t)
	stream := prefix + ":ingest_queue"
	producer := queue.NewProducer(rdb, stream, queue.ProducerOptions{MetricsPrefix: prefix + ":metrics"})
	feeder := ingest.NewFeeder(producer, ingest.FeederOptions{})
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	recv, err := New(opts, feeder, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: the producer closes after both stop.
	t.Cleanup(func() { _ = producer.Close() })
	itest.RunUntilCleanup(t, feeder.Run, recv.Run)
	return &rig{t: t, rdb: rdb, stream: stream, recv: recv}
}

func (r *rig) events(n int) []map[string]any {
	r.t.Helper()
	return itest.StreamEvents(r.t, r.rdb, r.stream, n)
}

func (r *rig) queued() int64 {
	n, err := r.rdb.XLen(context.Background(), r.stream).Result()
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// netSNMP runs a net-snmp command with a private configuration and state
// directory, so nothing of the machine's is read or written.
func netSNMP(t *testing.T, name string, args ...string) error {
	t.Helper()
	bin := itest.Tool(t, name, "snmp")
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"-r", "1", "-t", "3"}, args...)...)
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir, "SNMPCONFPATH="+dir, "MIBS=", "MIBDIRS="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// TestNetSNMPSenders sends with net-snmp's snmptrap (v1, v2c, v3
// authPriv SHA/AES, v3 authNoPriv SHA-256) and snmpinform (v2c, v3) and
// checks every event.
func TestNetSNMPSenders(t *testing.T) {
	r := newRig(t, Options{Communities: []secrets.Secret{secrets.New("s3cret-comm")}, Users: testUsers})
	addr := r.recv.Addr()
	v3 := []string{"-v", "3", "-l", "authPriv", "-u", "mutt-sha-aes", "-a", "SHA", "-A", "auth-pass-123", "-x", "AES", "-X", "priv-pass-456"}
	linkDown := []string{"1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2", "1.3.6.1.2.1.2.2.1.8.2", "i", "2"}
	sends := []struct {
		name string
		cmd  string
		args []string
		want map[string]any
	}{
		{"v2c", "snmptrap", append([]string{"-v", "2c", "-c", "s3cret-comm", addr, "4242"}, linkDown...),
			map[string]any{"snmp_version": "2c", "trap_oid": "1.3.6.1.6.3.1.1.5.3", "trap_name": "linkDown", "uptime": 4242.0,
				"message": "linkDown from 127.0.0.1: ifIndex.2=2 ifOperStatus.2=2"}},
		{"v1 generic", "snmptrap", []string{"-v", "1", "-c", "s3cret-comm", addr, "1.3.6.1.4.1.8072.3.2.10", "10.9.8.7", "2", "0", "77",
			"1.3.6.1.2.1.2.2.1.1.3", "i", "3"},
			map[string]any{"snmp_version": "1", "trap_oid": "1.3.6.1.6.3.1.1.5.3", "hostname": "10.9.8.7", "generic_trap": 2.0, "uptime": 77.0}},
		{"v1 specific", "snmptrap", []string{"-v", "1", "-c", "s3cret-comm", addr, "1.3.6.1.4.1.9.9.41.2", "0.0.0.0", "6", "1", "",
			"1.3.6.1.4.1.9.9.41.1.2.3.1.2", "s", "LINK"},
			map[string]any{"snmp_version": "1", "trap_oid": "1.3.6.1.4.1.9.9.41.2.0.1", "hostname": "127.0.0.1", "enterprise": "1.3.6.1.4.1.9.9.41.2"}},
		{"v3 authPriv", "snmptrap", append(append(append([]string{}, v3...), "-e", "0x8000000001020304", addr, ""), linkDown...),
			map[string]any{"snmp_version": "3", "snmp_user": "mutt-sha-aes", "trap_oid": "1.3.6.1.6.3.1.1.5.3"}},
		{"v3 authNoPriv", "snmptrap", []string{"-v", "3", "-l", "authNoPriv", "-u", "mutt-sha256", "-a", "SHA-256", "-A", "auth-pass-789",
			"-e", "0x8000000001020305", addr, "", "1.3.6.1.6.3.1.1.5.4"},
			map[string]any{"snmp_version": "3", "snmp_user": "mutt-sha256", "trap_oid": "1.3.6.1.6.3.1.1.5.4"}},
		{"v2c relayed", "snmptrap", []string{"-v", "2c", "-c", "s3cret-comm", addr, "", "1.3.6.1.6.3.1.1.5.1", "1.3.6.1.6.3.18.1.3.0", "a", "192.0.2.77"},
			map[string]any{"hostname": "192.0.2.77", "source_ip": "127.0.0.1"}},
		{"v2c inform", "snmpinform", []string{"-v", "2c", "-c", "s3cret-comm", addr, "", "1.3.6.1.4.1.9.9.117.2.0.1", "1.3.6.1.4.1.9.9.117.1.1.2.1.2", "s", "Fan tray bad"},
			map[string]any{"pdu_type": "inform", "snmp_version": "2c", "trap_oid": "1.3.6.1.4.1.9.9.117.2.0.1"}},
		{"v3 inform", "snmpinform", append(append([]string{}, v3...), addr, "", "1.3.6.1.4.1.9.9.43.2.0.1", "1.3.6.1.2.1.1.5.0", "s", "core-01"),
			map[string]any{"pdu_type": "inform", "snmp_version": "3", "trap_oid": "1.3.6.1.4.1.9.9.43.2.0.1",
				"message": "ciscoConfigManEvent from 127.0.0.1: sysName.0=core-01"}},
	}
	for i, s := range sends {
		if err := netSNMP(t, s.cmd, s.args...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		// snmpinform returns only once answered, and the answer comes only
		// after the event is queued.
		if s.cmd == "snmpinform" && r.queued() < int64(i+1) {
			t.Errorf("%s acknowledged before its event was queued", s.name)
		}
		evs := r.events(i + 1)
		ev := evs[len(evs)-1]
		for k, v := range s.want {
			if ev[k] != v {
				t.Errorf("%s: %s = %v, want %v\n%v", s.name, k, ev[k], v, ev)
			}
		}
		if ev["source_type"] != "snmp_trap" || ev["_event_id"] == nil || ev["varbinds"] == nil {
			t.Errorf("%s: event %v", s.name, ev)
		}
	}
	itest.Eventually(t, 5*time.Second, "informs acknowledged = 2", func() bool {
		return testutil.ToFloat64(r.recv.metrics.informsAcked) == 2
	})
}

// TestRefusedCredentials checks that a wrong community, an unknown user
// and a wrong passphrase are counted and never queued.
func TestRefusedCredentials(t *testing.T) {
	r := newRig(t, Options{Communities: []secrets.Secret{secrets.New("s3cret-comm")}, Users: testUsers})
	addr := r.recv.Addr()
	cases := []struct {
		reason string
		args   []string
	}{
		{reasonCommunity, []string{"-v", "2c", "-c", "public", addr, "", "1.3.6.1.6.3.1.1.5.1"}},
		{reasonCommunity, []string{"-v", "1", "-c", "public", addr, "1.3.6.1.4.1.1", "", "0", "0", ""}},
		{reasonUnknownUser, []string{"-v", "3", "-l", "authNoPriv", "-u", "nobody", "-a", "SHA", "-A", "whatever-pass", "-e", "0x8000000001020304", addr, "", "1.3.6.1.6.3.1.1.5.1"}},
		{reasonAuth, []string{"-v", "3", "-l", "authPriv", "-u", "mutt-sha-aes", "-a", "SHA", "-A", "wrong-pass-000", "-x", "AES", "-X", "priv-pass-456", "-e", "0x8000000001020304", addr, "", "1.3.6.1.6.3.1.1.5.1"}},
		{reasonNoAuth, []string{"-v", "3", "-l", "noAuthNoPriv", "-u", "mutt-sha256", "-e", "0x8000000001020304", addr, "", "1.3.6.1.6.3.1.1.5.1"}},
	}
	want := map[string]float64{}
	for _, c := range cases {
		if err := netSNMP(t, "snmptrap", c.args...); err != nil {
			t.Fatal(err)
		}
		want[c.reason]++
	}
	for reason, n := range want {
		itest.Eventually(t, 10*time.Second, fmt.Sprintf("%v rejected for %s", n, reason), func() bool {
			return testutil.ToFloat64(r.recv.metrics.rejected.WithLabelValues(reason)) == n
		})
	}
	// A good trap after the bad ones is the only event.
	if err := netSNMP(t, "snmptrap", "-v", "2c", "-c", "s3cret-comm", addr, "", "1.3.6.1.6.3.1.1.5.2"); err != nil {
		t.Fatal(err)
	}
	evs := r.events(1)
	if len(evs) != 1 || evs[0]["trap_oid"] != "1.3.6.1.6.3.1.1.5.2" {
		t.Errorf("events %v, want only the warmStart", evs)
	}
}

func TestNewRefusesNoCredentials(t *testing.T) {
	if _, err := New(Options{Listen: "127.0.0.1:0"}, nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a receiver with no community and no user started")
	}
}

func TestV1TrapOID(t *testing.T) {
	tests := []struct {
		enterprise        string
		generic, specific int
		want              string
	}{
		{"1.3.6.1.4.1.9", 0, 0, "1.3.6.1.6.3.1.1.5.1"},
		{".1.3.6.1.4.1.9", 2, 0, "1.3.6.1.6.3.1.1.5.3"},
		{"1.3.6.1.4.1.9", 5, 0, "1.3.6.1.6.3.1.1.5.6"},
		{".1.3.6.1.4.1.9.9.41.2", 6, 1, "1.3.6.1.4.1.9.9.41.2.0.1"},
		{"1.3.6.1.2.1.14.16.2", 6, 2, "1.3.6.1.2.1.14.16.2.0.2"},
	}
	for _, tt := range tests {
		if got := V1TrapOID(tt.enterprise, tt.generic, tt.specific); got != tt.want {
			t.Errorf("V1TrapOID(%s, %d, %d) = %s, want %s", tt.enterprise, tt.generic, tt.specific, got, tt.want)
		}
	}
}
