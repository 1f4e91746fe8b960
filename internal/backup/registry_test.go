package backup

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestProfileComponents pins the profiles of both storage modes: the Redis
// + PostgreSQL ones are those of the guide's component table.
func TestProfileComponents(t *testing.T) {
	tests := []struct {
		profile, storage string
		want             []string
		known            bool
	}{
		{profile: "hourly", want: []string{ComponentPgConfig}, known: true},
		{profile: "redis", want: []string{ComponentRedis}, known: true},
		{profile: "daily", want: []string{ComponentPostgres, ComponentRedis, ComponentConfig, ComponentLogs}, known: true},
		{profile: "weekly", want: []string{ComponentVault, ComponentPrometheus}, known: true},
		{profile: "pre-upgrade", want: []string{ComponentPostgres, ComponentRedis, ComponentConfig, ComponentVault}, known: true},
		{profile: ProfileBase, want: []string{ComponentPgBase}, known: true},
		{profile: "hourly", storage: StorageEmbedded, want: []string{ComponentSQLite}, known: true},
		{profile: "redis", storage: StorageEmbedded, want: []string{ComponentSQLite}, known: true},
		{profile: "daily", storage: StorageEmbedded, want: []string{ComponentSQLite, ComponentConfig, ComponentLogs}, known: true},
		{profile: "weekly", storage: StorageEmbedded, want: []string{ComponentVault, ComponentPrometheus}, known: true},
		{profile: "pre-upgrade", storage: StorageEmbedded, want: []string{ComponentSQLite, ComponentConfig, ComponentVault}, known: true},
		{profile: ProfileBase, storage: StorageEmbedded, known: true},
		{profile: "monthly"},
	}
	for _, tt := range tests {
		t.Run(tt.profile+"/"+tt.storage, func(t *testing.T) {
			got, ok := ProfileComponentsFor(tt.profile, tt.storage)
			if ok != tt.known || !slices.Equal(got, tt.want) {
				t.Errorf("ProfileComponentsFor(%q, %q) = %v, %v; want %v, %v", tt.profile, tt.storage, got, ok, tt.want, tt.known)
			}
		})
	}
}

// TestRegistry checks what every registered component declares: a
// known name, objectives as the guide's scenario table has them, and a
// Restore that either works or names what restores the component.
func TestRegistry(t *testing.T) {
	reg := NewRegistry()
	want := []string{ComponentPgConfig, ComponentPostgres, ComponentSQLite, ComponentRedis, ComponentConfig,
		ComponentLogs, ComponentVault, ComponentPrometheus, ComponentPgBase}
	if got := reg.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		if !KnownComponent(n) {
			t.Errorf("KnownComponent(%q) = false", n)
		}
	}
	if KnownComponent("mysql") {
		t.Error(`KnownComponent("mysql") = true`)
	}
	targets := []struct {
		name     string
		rto, rpo time.Duration
	}{
		{ComponentPostgres, RTOPostgres, 24 * time.Hour}, {ComponentPgConfig, RTOPostgres, 24 * time.Hour},
		{ComponentRedis, RTORedis, 6 * time.Hour}, {ComponentConfig, RTOConfig, 24 * time.Hour},
		{stepDynamicConfig, RTOConfig, 24 * time.Hour}, {ComponentVault, RTOVault, 7 * 24 * time.Hour},
		{ComponentSQLite, RTOPostgres, 6 * time.Hour}, {"full", RTOFull, 0}, {ComponentLogs, 0, 0},
	}
	for _, tt := range targets {
		if got := RTOTarget(tt.name); got != tt.rto {
			t.Errorf("RTOTarget(%q) = %s, want %s", tt.name, got, tt.rto)
		}
		if got := RPOTarget(tt.name); got != tt.rpo {
			t.Errorf("RPOTarget(%q) = %s, want %s", tt.name, got, tt.rpo)
		}
	}
	for _, n := range []string{ComponentPgConfig, ComponentLogs, ComponentPrometheus, ComponentPgBase} {
		spec, _ := reg.Lookup(n)
		if _, err := spec.Restore(t.Context(), RestoreOptions{}); !errors.Is(err, ErrNoGenericRestore) {
			t.Errorf("Restore of %s = %v, want ErrNoGenericRestore", n, err)
		}
	}
}
