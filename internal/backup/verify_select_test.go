package backup

import (
	"reflect"
	"testing"
)

func TestLatestEach(t *testing.T) {
	art := []ArtifactInfo{{Path: "x"}}
	set := func(id string, cs ...Component) *Manifest { return &Manifest{SetID: id, Components: cs} }
	ok := func(name string) Component { return Component{Name: name, Status: StatusOK, Artifacts: art} }
	weekly := set("w", ok(ComponentVault))
	daily := set("d", ok(ComponentPostgres), ok(ComponentConfig), Component{Name: ComponentRedis, Status: StatusFailed, Artifacts: art})
	redis := set("r", ok(ComponentRedis), Component{Name: ComponentPostgres, Status: StatusOK})
	older := set("o", ok(ComponentPostgres), ok(ComponentRedis))
	tests := []struct {
		name string
		ms   []*Manifest
		want map[string][]string
	}{
		{name: "empty", ms: nil, want: map[string][]string{}},
		{name: "newest set only partly", ms: []*Manifest{weekly, daily, redis, older},
			want: map[string][]string{"w": {ComponentVault}, "d": {ComponentPostgres, ComponentConfig}, "r": {ComponentRedis}}},
		{name: "failed and artifact-less skipped", ms: []*Manifest{redis, older},
			want: map[string][]string{"r": {ComponentRedis}, "o": {ComponentPostgres}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string][]string{}
			for _, s := range LatestEach(tt.ms) {
				if _, dup := got[s.Manifest.SetID]; dup {
					t.Errorf("set %s picked twice", s.Manifest.SetID)
				}
				got[s.Manifest.SetID] = s.Components
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LatestEach = %v, want %v", got, tt.want)
			}
		})
	}
}
