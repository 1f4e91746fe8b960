package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/store"
)

// configEnv is a dlqEnv whose config prefix the tests read.
type configEnv struct {
	*dlqEnv
	cfgPrefix string
}

func newConfigEnv(t *testing.T) *configEnv {
	t.Helper()
	e := newDLQEnv(t, true)
	return &configEnv{dlqEnv: e, cfgPrefix: e.prefix + ":config"}
}

func (e *configEnv) get(name string) (string, bool) {
	e.t.Helper()
	v, err := e.rdb.Get(context.Background(), e.cfgPrefix+":"+name).Result()
	if err != nil {
		return "", false
	}
	return v, true
}

func (e *configEnv) put(name, value string) {
	e.t.Helper()
	if err := e.rdb.Set(context.Background(), e.cfgPrefix+":"+name, value, 0).Err(); err != nil {
		e.t.Fatal(err)
	}
}

func TestConfigSetGetDelete(t *testing.T) {
	e := newConfigEnv(t)
	code, out, errOut := runDLQ("config", "set", "alerter_shed_mode", "defer", "--reason", "INC-9 backlog")
	if code != exitOK || !strings.Contains(out, `(unset) → "defer" (CREATE`) {
		t.Fatalf("set: code %d, out %q, err %q", code, out, errOut)
	}
	code, out, _ = runDLQ("config", "set", "alerter_shed_mode", "off", "--json")
	var change map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &change) != nil || change["old_value"] != "defer" ||
		change["new_value"] != "off" || change["operation"] != "UPDATE" {
		t.Fatalf("set --json: code %d, out %q", code, out)
	}
	if code, out, _ = runDLQ("config", "get", "alerter_shed_mode"); code != exitOK || out != "off\n" {
		t.Errorf("get: code %d, out %q", code, out)
	}
	rows := e.auditRows()
	if len(rows) != 2 {
		t.Fatalf("audit rows %+v", rows)
	}
	r := rows[0]
	if !strings.HasPrefix(r.ChangedBy, "cli:") || len(r.ChangedBy) < 5 || r.Operation != "CREATE" || r.TableName != "dynamic_config" ||
		r.RecordID != store.HashRecordID("alerter_shed_mode") || r.New["value"] != "defer" || r.Reason == nil ||
		*r.Reason != "INC-9 backlog" || r.CorrelationID == nil || len(*r.CorrelationID) != 36 {
		t.Errorf("CREATE row %+v", r)
	}

	// Delete needs a confirmation: stdin is no terminal, so without --yes it is refused.
	if code, _, errOut = runDLQ("config", "delete", "alerter_shed_mode"); code != exitUsage || !strings.Contains(errOut, "--yes") {
		t.Errorf("delete without --yes: code %d, err %q", code, errOut)
	}
	if v, _ := e.get("alerter_shed_mode"); v != "off" {
		t.Errorf("refused delete changed the value to %q", v)
	}
	if code, out, errOut = runDLQ("config", "delete", "alerter_shed_mode", "--yes", "--reason", "over"); code != exitOK || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: code %d, out %q, err %q", code, out, errOut)
	}
	if _, found := e.get("alerter_shed_mode"); found {
		t.Error("key still set after delete")
	}
	if rows = e.auditRows(); len(rows) != 3 || rows[2].Operation != "DELETE" || rows[2].Old["value"] != "off" {
		t.Errorf("audit rows after delete %+v", rows)
	}
	if code, _, errOut = runDLQ("config", "get", "alerter_shed_mode"); code != exitFailure || !strings.Contains(errOut, "default (dlq)") {
		t.Errorf("get of unset key: code %d, err %q", code, errOut)
	}
	if code, _, errOut = runDLQ("config", "delete", "alerter_shed_mode", "--yes"); code != exitFailure || !strings.Contains(errOut, "not set") {
		t.Errorf("delete of unset key: code %d, err %q", code, errOut)
	}
	code, out, _ = runDLQ("config", "get", "alerter_shed_mode", "--json")
	var got map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &got) != nil || got["value"] != nil || got["default"] != "dlq" {
		t.Errorf("get --json of unset key: code %d, out %q", code, out)
	}
}

func TestConfigSetRefusesInvalidValues(t *testing.T) {
	e := newConfigEnv(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"kind", []string{"unhandled_threshold", "many"}, "invalid value for unhandled_threshold: must be an integer"},
		{"bounds", []string{"slo_ingest_success_target", "1.5"}, "less than 1"},
		{"cross-key", []string{"slo_ingestor_latency_p99_upper_bound_warning", "2"}, "must not exceed slo_ingestor_latency_p99_upper_bound_critical"},
		{"updates", []string{"updates", "x"}, "reserved for the update channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runDLQ(append([]string{"config", "set"}, tt.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("code %d, err %q; want exit 2 with %q", code, errOut, tt.wantErr)
			}
			if _, found := e.get(tt.args[0]); found {
				t.Error("a refused value was stored")
			}
		})
	}
	if code, _, errOut := runDLQ("config", "set", "my_own_key", "x"); code != exitOK || !strings.Contains(errOut, "not a known key") {
		t.Errorf("unknown key: code %d, err %q", code, errOut)
	}
	if rows := e.auditRows(); len(rows) != 1 {
		t.Errorf("audit rows %+v, want only the unknown key's", rows)
	}
}

func TestConfigList(t *testing.T) {
	e := newConfigEnv(t)
	e.put("unhandled_threshold", "lots")
	e.put("moog_rate_limit", "70")
	e.put("legacy_thing", "1")
	e.put("updates", "never listed")
	code, out, errOut := runDLQ("config", "list")
	if code != exitOK {
		t.Fatalf("list: code %d, err %q", code, errOut)
	}
	line := func(name string) string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return l
			}
		}
		return ""
	}
	if l := line("unhandled_threshold"); !strings.Contains(l, "lots") || !strings.Contains(l, "invalid: must be an integer") {
		t.Errorf("invalid value not marked: %q", l)
	}
	if l := line("moog_rate_limit"); !strings.Contains(l, "70") || !strings.Contains(l, " 50 ") || !strings.Contains(l, "forwarder") || strings.Contains(l, "invalid") {
		t.Errorf("moog_rate_limit line %q", l)
	}
	if l := line("legacy_thing"); !strings.Contains(l, "unknown key") {
		t.Errorf("unknown key not marked: %q", l)
	}
	if l := line("remediation_enabled"); !strings.Contains(l, "reserved") {
		t.Errorf("reserved key not marked: %q", l)
	}
	if line("updates") != "" {
		t.Error("updates listed")
	}
	if l := line("slo_window_hours"); !strings.Contains(l, " - ") || !strings.Contains(l, "24") {
		t.Errorf("unset key line %q", l)
	}

	code, out, _ = runDLQ("config", "list", "--set", "--json")
	var rows []configRow
	if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("list --json: code %d, out %q", code, out)
	}
	if len(rows) != 3 {
		t.Fatalf("list --set --json: %d rows, want 3: %+v", len(rows), rows)
	}
	for _, r := range rows {
		if r.Value == nil || (r.Name == "legacy_thing") == r.Known {
			t.Errorf("row %+v", r)
		}
	}
}

func TestConfigSeed(t *testing.T) {
	e := newConfigEnv(t)
	e.put("moog_rate_limit", "70")
	nonReserved := 0
	for _, k := range dynconfig.Keys() {
		if !k.Reserved {
			nonReserved++
		}
	}
	code, out, _ := runDLQ("config", "seed", "--dry-run")
	if code != exitOK || !strings.Contains(out, "dry run") || strings.Contains(out, "moog_rate_limit") {
		t.Fatalf("dry run: code %d, out %q", code, out)
	}
	if _, found := e.get("unhandled_threshold"); found || len(e.auditRows()) != 0 {
		t.Fatal("dry run changed something")
	}
	if code, out, _ = runDLQ("config", "seed"); code != exitOK {
		t.Fatalf("seed: code %d, out %q", code, out)
	}
	if v, _ := e.get("unhandled_threshold"); v != "100" {
		t.Errorf("unhandled_threshold seeded as %q", v)
	}
	if v, _ := e.get("moog_rate_limit"); v != "70" {
		t.Errorf("seed overwrote moog_rate_limit: %q", v)
	}
	if n := len(e.auditRows()); n != nonReserved-1 {
		t.Errorf("%d audit rows, want %d", n, nonReserved-1)
	}
	if code, _, _ = runDLQ("config", "seed", "--force"); code != exitUsage {
		t.Errorf("seed --force without --yes: code %d, want %d", code, exitUsage)
	}
	code, out, _ = runDLQ("config", "seed", "--force", "--yes", "--json")
	var changes []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &changes) != nil || len(changes) != 1 ||
		changes[0]["key"] != "moog_rate_limit" || changes[0]["old_value"] != "70" || changes[0]["new_value"] != "50" {
		t.Errorf("seed --force: code %d, out %q", code, out)
	}
}

func TestConfigValidate(t *testing.T) {
	e := newConfigEnv(t)
	if code, out, errOut := runDLQ("config", "validate"); code != exitOK || !strings.Contains(out, "static configuration: ok") {
		t.Fatalf("validate: code %d, out %q, err %q", code, out, errOut)
	}
	// Every problem is reported, not only the first.
	t.Setenv("LOG_LEVEL", "loud")
	t.Setenv("ALERTER_WORKERS", "500")
	code, out, _ := runDLQ("config", "validate")
	if code != exitUsage || !strings.Contains(out, "LOG_LEVEL") || !strings.Contains(out, "ALERTER_WORKERS") {
		t.Errorf("invalid config: code %d, out %q", code, out)
	}
	t.Setenv("LOG_LEVEL", "info")
	t.Setenv("ALERTER_WORKERS", "4")

	dir := t.TempDir()
	envFile := filepath.Join(dir, "mutt.env")
	if err := os.WriteFile(envFile, []byte("# MUTT\nexport MOOG_WEBHOOK_URL=\"not a url\"\n\nREDIS_PORT=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runDLQ("config", "validate", "--env-file", envFile)
	if code != exitUsage || !strings.Contains(out, "MOOG_WEBHOOK_URL") || !strings.Contains(out, "chmod 600") {
		t.Errorf("env file: code %d, out %q", code, out)
	}
	if code, _, errOut := runDLQ("config", "validate", "--env-file", filepath.Join(dir, "missing.env")); code != exitUsage || errOut == "" {
		t.Errorf("missing env file: code %d, err %q", code, errOut)
	}

	e.put("unhandled_threshold", "50")
	e.put("someone_elses", "x")
	if code, out, _ = runDLQ("config", "validate", "--check-dynamic"); code != exitOK || !strings.Contains(out, "dynamic configuration: ok (1 values, 1 unknown keys)") {
		t.Errorf("check-dynamic ok: code %d, out %q", code, out)
	}
	e.put("alerter_shed_mode", "sometimes")
	code, out, _ = runDLQ("config", "validate", "--check-dynamic")
	if code != exitFailure || !strings.Contains(out, `alerter_shed_mode = "sometimes"`) {
		t.Errorf("check-dynamic invalid: code %d, out %q", code, out)
	}
}
