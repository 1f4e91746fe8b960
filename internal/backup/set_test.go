package backup

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// comp describes one component of a synthetic set.
type comp struct {
	name     string
	status   string
	verified bool
}

func ok(name string) comp         { return comp{name, StatusOK, true} }
func unverified(name string) comp { return comp{name, StatusOK, false} }
func failed(name string) comp     { return comp{name, StatusFailed, false} }
func skipped(name string) comp    { return comp{name, StatusSkipped, false} }

func set(tag string, age time.Duration, pinned bool, comps ...comp) *Manifest {
	started := fixedNow.Add(-age)
	id := started.Format(setTimeFmt) + "-h-p-" + tag
	m := &Manifest{Format: ManifestFormat, SetID: id, StartedAt: started, Pinned: pinned}
	for _, c := range comps {
		mc := Component{Name: c.name, Status: c.status}
		if c.status != StatusSkipped {
			mc.Artifacts = []ArtifactInfo{{Path: ArtifactDir(c.name, id, started) + "/a.age"}}
			st := StatusFailed
			if c.verified {
				st = StatusOK
			}
			mc.Verify = &Verify{Level: VerifyQuick, Status: st}
		}
		m.Components = append(m.Components, mc)
	}
	return m
}

func TestPlanPrune(t *testing.T) {
	ret := map[string]time.Duration{"postgres": 30 * day, "redis": 7 * day, "config": 90 * day}
	tests := []struct {
		name    string
		sets    []*Manifest
		keepMin int
		want    []string // tags deleted
	}{
		{
			name:    "old sets beyond keep-min go",
			sets:    []*Manifest{set("a", 1*day, false, ok("postgres")), set("b", 2*day, false, ok("postgres")), set("c", 3*day, false, ok("postgres")), set("d", 40*day, false, ok("postgres")), set("e", 50*day, false, ok("postgres"))},
			keepMin: 3,
			want:    []string{"d", "e"},
		},
		{
			name:    "keep-min floor holds old verified sets",
			sets:    []*Manifest{set("a", 40*day, false, ok("postgres")), set("b", 50*day, false, ok("postgres")), set("c", 60*day, false, ok("postgres")), set("d", 70*day, false, ok("postgres"))},
			keepMin: 3,
			want:    []string{"d"},
		},
		{
			name: "month of failures never empties the catalogue",
			sets: []*Manifest{
				set("f1", 1*day, false, failed("postgres")), set("f2", 2*day, false, failed("postgres")),
				set("u", 35*day, false, unverified("postgres")), set("v", 60*day, false, ok("postgres")),
			},
			keepMin: 1,
			want:    []string{"u"},
		},
		{
			name:    "keep-min zero still keeps the newest verified",
			sets:    []*Manifest{set("a", 40*day, false, ok("postgres")), set("b", 50*day, false, ok("postgres"))},
			keepMin: 0,
			want:    []string{"b"},
		},
		{
			name:    "pinned kept past retention",
			sets:    []*Manifest{set("a", 1*day, false, ok("postgres")), set("p", 400*day, true, ok("postgres")), set("o", 400*day, false, ok("postgres"))},
			keepMin: 1,
			want:    []string{"o"},
		},
		{
			name:    "longest component retention wins",
			sets:    []*Manifest{set("a", 1*day, false, ok("postgres"), ok("config")), set("b", 45*day, false, ok("postgres"), ok("config")), set("c", 100*day, false, ok("postgres"), ok("config"))},
			keepMin: 1,
			want:    []string{"c"},
		},
		{
			name:    "protection by another component",
			sets:    []*Manifest{set("a", 1*day, false, ok("postgres")), set("r", 20*day, false, failed("postgres"), ok("redis"))},
			keepMin: 1,
			want:    nil,
		},
		{
			name:    "skipped components do not extend retention",
			sets:    []*Manifest{set("a", 1*day, false, ok("redis")), set("b", 10*day, false, ok("redis"), skipped("config"))},
			keepMin: 1,
			want:    []string{"b"},
		},
		{
			name:    "unknown component kept forever",
			sets:    []*Manifest{set("a", 1*day, false, ok("prometheus")), set("b", 1000*day, false, ok("prometheus"))},
			keepMin: 1,
			want:    nil,
		},
		{
			name:    "empty set kept only within the longest retention",
			sets:    []*Manifest{set("e1", 10*day, false, skipped("vault")), set("e2", 91*day, false)},
			keepMin: 1,
			want:    []string{"e2"},
		},
		{
			name:    "future-dated set is within retention",
			sets:    []*Manifest{set("a", -2*day, false, failed("redis"))},
			keepMin: 1,
			want:    nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := PlanPrune(tt.sets, ret, tt.keepMin, fixedNow)
			var got []string
			for _, id := range plan.DeleteIDs() {
				got = append(got, id[len(id)-len(tagOf(id, tt.sets)):])
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("deleted %v, want %v (keep: %+v)", got, tt.want, plan.Keep)
			}
			if len(plan.Delete)+len(plan.Keep) != len(tt.sets) {
				t.Errorf("plan covers %d of %d sets", len(plan.Delete)+len(plan.Keep), len(tt.sets))
			}
			for _, k := range plan.Keep {
				if k.Reason == "" {
					t.Errorf("set %s kept without a reason", k.SetID)
				}
			}
		})
	}
}

func tagOf(id string, sets []*Manifest) string {
	for _, m := range sets {
		if m.SetID == id {
			return id[len(fixedNow.Format(setTimeFmt)+"-h-p-"):]
		}
	}
	return ""
}

// TestPlanPruneProperties checks the three never-rules over random histories.
func TestPlanPruneProperties(t *testing.T) {
	components := []string{"postgres", "redis", "config", "vault"}
	statuses := []string{StatusOK, StatusOK, StatusOK, StatusFailed, StatusSkipped}
	for seed := int64(1); seed <= 2000; seed++ {
		rng := rand.New(rand.NewSource(seed))
		ret := map[string]time.Duration{}
		for _, c := range components {
			if rng.Intn(6) > 0 {
				ret[c] = time.Duration(1+rng.Intn(60)) * day
			}
		}
		keepMin := rng.Intn(5) - 1
		var ms []*Manifest
		for i := range rng.Intn(40) {
			var cs []comp
			for _, c := range components {
				if rng.Intn(3) == 0 {
					continue
				}
				st := statuses[rng.Intn(len(statuses))]
				cs = append(cs, comp{c, st, st == StatusOK && rng.Intn(4) > 0})
			}
			age := time.Duration(rng.Int63n(int64(200 * day)))
			ms = append(ms, set(fmt.Sprintf("%04d", i), age, rng.Intn(15) == 0, cs...))
		}
		rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })

		plan := PlanPrune(ms, ret, keepMin, fixedNow)
		deleted := map[string]bool{}
		for _, id := range plan.DeleteIDs() {
			deleted[id] = true
		}
		if len(deleted)+len(plan.Keep) != len(ms) {
			t.Fatalf("seed %d: plan covers %d+%d of %d sets", seed, len(deleted), len(plan.Keep), len(ms))
		}
		floor := max(keepMin, 1)
		sorted := slices.Clone(ms)
		SortNewestFirst(sorted)
		for _, c := range components {
			total, left := 0, 0
			newest := ""
			for _, m := range sorted {
				if !m.Verified(c) {
					continue
				}
				if newest == "" {
					newest = m.SetID
				}
				total++
				if !deleted[m.SetID] {
					left++
				}
			}
			if newest != "" && deleted[newest] {
				t.Fatalf("seed %d: newest verified %s set %s deleted", seed, c, newest)
			}
			if left < min(floor, total) {
				t.Fatalf("seed %d: %d verified %s sets left of %d, keep-min %d", seed, left, c, total, keepMin)
			}
		}
		for _, m := range ms {
			if !deleted[m.SetID] {
				continue
			}
			if m.Pinned {
				t.Fatalf("seed %d: pinned set %s deleted", seed, m.SetID)
			}
			for _, c := range m.Components {
				if c.Status == StatusSkipped {
					continue
				}
				if r, ok := ret[c.Name]; !ok || fixedNow.Sub(m.Time()) < r {
					t.Fatalf("seed %d: set %s deleted within %s retention", seed, m.SetID, c.Name)
				}
			}
		}
	}
}

func TestFindGarbage(t *testing.T) {
	root := t.TempDir()
	known := set("k", 10*day, false, ok("postgres"))
	oldOrphan := fixedNow.Add(-25*time.Hour).Format(setTimeFmt) + "-h-daily-0001"
	newOrphan := fixedNow.Add(-time.Hour).Format(setTimeFmt) + "-h-daily-0002"
	files := []string{
		known.Components[0].Artifacts[0].Path,
		ArtifactDir("postgres", known.SetID, known.StartedAt) + "/b.age.partial",
		ArtifactDir("redis", oldOrphan, fixedNow.Add(-25*time.Hour)) + "/dump.rdb.zst.age",
		ArtifactDir("redis", newOrphan, fixedNow.Add(-time.Hour)) + "/dump.rdb.zst.age",
		ArtifactDir("redis", newOrphan, fixedNow.Add(-time.Hour)) + "/keys.jsonl.zst.age.partial",
		"manifests/2025/11/10/" + newOrphan + ".json.partial",
	}
	// A partial file modified a minute ago belongs to a writer still at
	// work (a pull, a WAL push, a run whose lock prune would not get).
	fresh := ArtifactDir("postgres", known.SetID, known.StartedAt) + "/c.age.partial"
	files = append(files, fresh)
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o700)
		writeFile(t, p, "x", 0o600)
		mtime := fixedNow.Add(-25 * time.Hour)
		if f == fresh {
			mtime = fixedNow.Add(-time.Minute)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	got, err := FindGarbage(root, []*Manifest{known}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"manifests/2025/11/10/" + newOrphan + ".json.partial",
		files[1],
		ArtifactDir("redis", oldOrphan, fixedNow.Add(-25*time.Hour)),
		files[4],
	}
	slices.Sort(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("garbage\n got %v\nwant %v", got, want)
	}
	if got, err := FindGarbage(filepath.Join(root, "absent"), nil, fixedNow); err != nil || len(got) != 0 {
		t.Errorf("absent root: %v %v", got, err)
	}
	if dirs := SetDirs(known); !reflect.DeepEqual(dirs, []string{ArtifactDir("postgres", known.SetID, known.StartedAt)}) {
		t.Errorf("SetDirs = %v", dirs)
	}
}

func BenchmarkPlanPrune(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	var ms []*Manifest
	for i := range 2000 {
		ms = append(ms, set(fmt.Sprintf("%04d", i), time.Duration(rng.Int63n(int64(400*day))), false, ok("postgres"), ok("redis"), failed("config")))
	}
	ret := map[string]time.Duration{"postgres": 30 * day, "redis": 7 * day, "config": 90 * day}
	for b.Loop() {
		PlanPrune(ms, ret, 3, fixedNow)
	}
}
