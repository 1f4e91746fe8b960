package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/itest"
)

// serviceUnits are the long-running roles, each with the guide's unit name
// and the mutt subcommand it runs.
var serviceUnits = map[string]string{
	"mutt-ingestor.service":       "ingestor",
	"mutt-alerter.service":        "alerter",
	"mutt-alerter@.service":       "alerter",
	"mutt-moog-forwarder.service": "forwarder",
	"mutt-remediation.service":    "remediation",
	"mutt-webui.service":          "webui",
	"mutt-syslog.service":         "syslog",
	"mutt-snmptrap.service":       "snmptrap",
}

// receivers bind ports below 1024 and alone may hold a capability.
var receivers = []string{"mutt-syslog.service", "mutt-snmptrap.service"}

// hardening lines every role unit carries.
var hardening = []string{
	"User=mutt", "Group=mutt", "EnvironmentFile=/etc/mutt/mutt.env", "Type=notify",
	"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
	"PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
	"ProtectControlGroups=yes", "RestrictSUIDSGID=yes", "LockPersonality=yes",
	"Restart=always", "KillMode=mixed", "TimeoutStopSec=30", "LimitNOFILE=65536",
	"PartOf=mutt.target", "WantedBy=mutt.target",
}

func readUnit(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hasLine(unit, line string) bool {
	return slices.Contains(strings.Split(unit, "\n"), line)
}

func TestServiceUnitsAreHardened(t *testing.T) {
	for name, sub := range serviceUnits {
		t.Run(name, func(t *testing.T) {
			u := readUnit(t, name)
			for _, l := range hardening {
				if !hasLine(u, l) {
					t.Errorf("lacks %q", l)
				}
			}
			if !hasLine(u, "ExecStart=/usr/local/bin/mutt "+sub) {
				t.Errorf("does not run `mutt %s`", sub)
			}
			if slices.Contains(receivers, name) {
				for _, l := range []string{"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE"} {
					if !hasLine(u, l) {
						t.Errorf("receiver lacks %q", l)
					}
				}
			} else if !hasLine(u, "CapabilityBoundingSet=") || !hasLine(u, "AmbientCapabilities=") {
				t.Error("a role on ports >= 1024 must drop every capability")
			}
		})
	}
	// The alerter template gives each instance a stable pod name.
	if u := readUnit(t, "mutt-alerter@.service"); !hasLine(u, "Environment=POD_NAME=%H-alerter-%i") {
		t.Error("mutt-alerter@.service does not set POD_NAME from the instance")
	}
}

func TestTargetWantsTheFiveRoles(t *testing.T) {
	u := readUnit(t, "mutt.target")
	for _, name := range []string{"mutt-ingestor", "mutt-alerter", "mutt-moog-forwarder", "mutt-remediation", "mutt-webui"} {
		if !regexp.MustCompile(`(?m)^Wants=.*\b` + name + `\.service\b`).MatchString(u) {
			t.Errorf("mutt.target does not want %s", name)
		}
	}
}

// TestSystemdAnalyzeVerify installs every unit under deploy/systemd into a
// scratch root (with the distribution's own units beside them and stand-ins
// for the programs they run) and has systemd-analyze verify them there.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze := itest.Tool(t, "systemd-analyze", "systemd")
	root := t.TempDir()
	units, err := filepath.Glob(filepath.Join("systemd", "mutt*"))
	if err != nil || len(units) == 0 {
		t.Fatalf("no units in deploy/systemd: %v", err)
	}
	names := InstallUnitsForVerify(t, root, units)
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no", "--root=" + root}, names...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// execPaths finds the absolute programs a unit runs.
var execPaths = regexp.MustCompile(`(?m)^Exec\w+=[-@:+!]*(/\S+)`)

// InstallUnitsForVerify copies units into root/etc/systemd/system, the
// distribution's units into root/usr/lib/systemd/system and an executable
// stand-in for every program the units run, and returns the unit names.
func InstallUnitsForVerify(t *testing.T, root string, units []string) []string {
	t.Helper()
	etc := filepath.Join(root, "etc", "systemd", "system")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(root, "usr", "lib", "systemd")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", lib+"/").CombinedOutput(); err != nil {
		t.Fatalf("copying the distribution's units: %v\n%s", err, out)
	}
	var names []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, filepath.Base(u)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, m := range execPaths.FindAllStringSubmatch(string(b), -1) {
			stub := filepath.Join(root, m[1])
			if err := os.MkdirAll(filepath.Dir(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		names = append(names, filepath.Base(u))
	}
	return names
}

func TestRetentionTimerRunsTheRetentionJob(t *testing.T) {
	u := readUnit(t, "mutt-retention.service")
	for _, l := range []string{"Type=oneshot", "User=mutt", "EnvironmentFile=/etc/mutt/mutt.env",
		"ExecStart=/usr/local/bin/mutt retention run", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet="} {
		if !hasLine(u, l) {
			t.Errorf("mutt-retention.service lacks %q", l)
		}
	}
	if !regexp.MustCompile(`(?m)^After=.*\bmutt-backup-daily\.service\b`).MatchString(u) {
		t.Error("retention does not run after the daily backup it needs")
	}
	if timer := readUnit(t, "mutt-retention.timer"); !hasLine(timer, "OnCalendar=*-*-* 03:30:00") || !hasLine(timer, "Persistent=true") {
		t.Error("mutt-retention.timer does not run daily after the backup")
	}
}
