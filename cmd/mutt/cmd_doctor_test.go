package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/doctor"
	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

// newDoctorEnv points the mutt command at a private Redis set up for the
// delivery guarantee, a migrated database with its partitions ahead and an
// empty backup root.
func newDoctorEnv(t *testing.T) {
	t.Helper()
	rdb := itest.PrivateRedis(t, "--appendonly", "yes", "--maxmemory-policy", "noeviction")
	pool, dsn := itest.Pool(t)
	if err := store.Migrate(t.Context(), pool, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsurePartitions(t.Context(), pool, time.Now(), 4); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REDIS_URL", "redis://"+rdb.Options().Addr+"/0")
	t.Setenv("DATABASE_URL", dsn)
	t.Setenv("MUTT_BACKUP_ROOT", t.TempDir())
	t.Setenv("VAULT_ADDR", "")
}

func TestDoctorExitCodes(t *testing.T) {
	newDoctorEnv(t)
	tests := []struct {
		name string
		args []string
		want int
	}{
		// No backup at all and retention never ran: one failure, one warning.
		{"everything", []string{"doctor", "--json"}, doctor.ExitCritical},
		{"retention only", []string{"doctor", "--json", "--only", "retention.last"}, doctor.ExitWarning},
		{"redis settings only", []string{"doctor", "--json", "--only", "redis.policy,redis.persistence,host.clock"}, doctor.ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.want {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.want, out.String(), errOut.String())
			}
			var rep doctor.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("output is not one JSON report: %v\n%s", err, out.String())
			}
			if rep.ExitCode() != tt.want || len(rep.Findings) == 0 {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

func TestDoctorTextNamesTheRemedy(t *testing.T) {
	newDoctorEnv(t)
	var out, errOut bytes.Buffer
	if code := run([]string{"doctor", "--only", "backup.postgres"}, &out, &errOut); code != doctor.ExitCritical {
		t.Fatalf("exit %d, want %d\n%s%s", code, doctor.ExitCritical, out.String(), errOut.String())
	}
	text := out.String()
	for _, want := range []string{"FAIL", "backup.postgres", "→ run `mutt backup run --components postgres`", "overall: FAIL"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(errOut.String(), "backup.postgres") {
		t.Errorf("stderr %q does not name the failing check", errOut.String())
	}
}

func TestDoctorRejectsUnknownCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"doctor", "--only", "redis.nope"}, &out, &errOut); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errOut.String(), `unknown check "redis.nope"`) {
		t.Errorf("stderr %q", errOut.String())
	}
}

func TestDoctorWithoutRedisIsCritical(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0")
	t.Setenv("DATABASE_URL", itest.AdminDatabaseURL())
	var out, errOut bytes.Buffer
	code := run([]string{"doctor", "--json", "--timeout", "2s"}, &out, &errOut)
	var rep doctor.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	if code != doctor.ExitCritical || rep.Status != health.StatusFail || rep.Findings[0].ID != "redis.ping" {
		t.Errorf("exit %d, report %+v", code, rep)
	}
}
