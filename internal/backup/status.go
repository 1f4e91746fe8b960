package backup

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Status levels of `mutt backup status`; each includes the ones before it.
const (
	LevelDaily     = "daily"
	LevelWeekly    = "weekly"
	LevelMonthly   = "monthly"
	LevelQuarterly = "quarterly"
)

// Check outcomes.
const (
	// CheckPass is a check that holds.
	CheckPass = "pass"
	// CheckFail is a check that does not hold; status exits non-zero.
	CheckFail = "fail"
	// CheckSkip is a check that does not apply (component not implemented
	// or not configured, no remotes); it never fails the status.
	CheckSkip = "skip"
	// CheckInfo is a manual item, printed as a reminder.
	CheckInfo = "info"
)

// Limits of the integrity checklist (spec §1.7.4).
const (
	// MaxUsedRatio is the backup filesystem usage above which status fails.
	MaxUsedRatio = 0.80
	// DeepVerifyMaxAge is how old the last passing deep verify may be.
	DeepVerifyMaxAge = 35 * 24 * time.Hour
	// DrillMaxAge is how old the last DR drill and alert test may be.
	DrillMaxAge = 92 * 24 * time.Hour
	// RemoteSyncGrace is how long a set may wait for its remote copies.
	RemoteSyncGrace = 6 * time.Hour
	// PartialMaxAge is how old a "*.partial" file may be before it counts as
	// debris of a crashed run.
	PartialMaxAge = 24 * time.Hour
)

// DefaultMaxAge returns, per scheduled component of the Redis +
// PostgreSQL mode, the age of the newest good set beyond which it is
// stale: the schedule's interval plus grace, the same thresholds as the
// MUTTBackupStale alert.
func DefaultMaxAge() map[string]time.Duration { return DefaultMaxAgeFor(StorageRedis) }

// DefaultMaxAgeFor is DefaultMaxAge for the components of the storage mode
// (StorageRedis or StorageEmbedded). The embedded database is taken by every
// scheduled profile but weekly, so it is stale after Redis's 7 h.
func DefaultMaxAgeFor(storage string) map[string]time.Duration {
	all := map[string]time.Duration{
		ComponentPgConfig: 2 * time.Hour, ComponentRedis: 7 * time.Hour, ComponentSQLite: 7 * time.Hour,
		ComponentPostgres: 26 * time.Hour, ComponentConfig: 26 * time.Hour, ComponentLogs: 26 * time.Hour,
		ComponentVault: 8 * day, ComponentPrometheus: 8 * day,
	}
	reg := NewRegistry()
	for name := range all {
		if spec, ok := reg.Lookup(name); ok && spec.Storage() != "" && spec.Storage() != storage {
			delete(all, name)
		}
	}
	return all
}

// StatusOptions is what CheckStatus checks.
type StatusOptions struct {
	// Root is the backup root.
	Root string
	// Level is daily (default), weekly, monthly or quarterly.
	Level string
	// MaxAge is the staleness limit per scheduled component; nil means
	// DefaultMaxAge.
	MaxAge map[string]time.Duration
	// Retention is the local retention per component, for the retention
	// check; nil skips it.
	Retention map[string]time.Duration
	// KeepMin is the prune floor used by the retention check.
	KeepMin int
	// Remotes are the configured remote targets; none skips the sync check.
	Remotes []string
	// KeyFiles are secret key files (passphrase, identity) that must be
	// mode 0400 or 0600.
	KeyFiles []string
	// EncryptionError is why encryption is not usable, nil when it is.
	EncryptionError error
	// SigningKey is the public half of the configured manifest signing
	// key; nil with a nil SigningError skips the signing check.
	SigningKey ed25519.PublicKey
	// SigningError is why the configured signing key is not usable.
	SigningError error
	// Archiver is PostgreSQL's archiving state (ReadArchiverStatus) and
	// ArchiverError why it could not be read; with both nil the WAL check
	// is skipped. WALLagMax is the lag past which it fails (zero means
	// DefaultWALLagMax).
	Archiver      *ArchiverStatus
	ArchiverError error
	WALLagMax     time.Duration
	// Now is the time of the check.
	Now time.Time
}

// Check is one item of the integrity checklist.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// StatusReport is the outcome of CheckStatus.
type StatusReport struct {
	Level  string    `json:"level"`
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Checks []Check   `json:"checks"`
}

// levelRank orders the levels; unknown levels rank 0 (daily).
func levelRank(level string) int {
	return slices.Index([]string{LevelDaily, LevelWeekly, LevelMonthly, LevelQuarterly}, level)
}

// CheckStatus runs the integrity checklist of level o.Level (and every
// lower level) against the manifests and the filesystem under o.Root. It
// returns an error only when the catalogue cannot be read; failing checks
// are in the report, whose OK is false when any check failed.
func CheckStatus(o StatusOptions) (StatusReport, error) {
	if o.Level == "" {
		o.Level = LevelDaily
	}
	rank := levelRank(o.Level)
	if rank < 0 {
		return StatusReport{}, fmt.Errorf("checking backup status: unknown level %q (want daily, weekly, monthly or quarterly)", o.Level)
	}
	if o.MaxAge == nil {
		o.MaxAge = DefaultMaxAge()
	}
	rep := StatusReport{Level: o.Level, At: o.Now.UTC()}
	add := func(name, status, format string, args ...any) {
		rep.Checks = append(rep.Checks, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	}
	ms, err := ListManifests(o.Root)
	if err != nil {
		return rep, fmt.Errorf("checking backup status: %w", err)
	}

	// Daily: every scheduled component has a good, verified set in time.
	for _, name := range slices.Sorted(maps.Keys(o.MaxAge)) {
		checkComponent(add, ms, name, o.MaxAge[name], o.Now)
	}
	checkDisk(add, o.Root)
	checkPartials(add, o.Root, o.Now)
	checkPermissions(add, o.Root, o.KeyFiles)
	if o.EncryptionError != nil {
		add("encryption", CheckFail, "%v", o.EncryptionError)
	} else {
		add("encryption", CheckPass, "encryption keys configured")
	}
	checkSigning(add, ms, slices.Sorted(maps.Keys(o.MaxAge)), o.SigningKey, o.SigningError)
	if o.WALLagMax == 0 {
		o.WALLagMax = DefaultWALLagMax
	}
	checkWAL(add, ms, o.Archiver, o.ArchiverError, o.WALLagMax)

	if rank >= levelRank(LevelWeekly) {
		checkRemotes(add, ms, o.Remotes, o.Now)
		checkSizes(add, ms)
	}
	if rank >= levelRank(LevelMonthly) {
		checkDeepVerify(add, ms, o.Now)
		checkEncrypted(add, ms)
		if o.Retention != nil {
			plan := PlanPrune(ms, o.Retention, o.KeepMin, o.Now.Add(-24*time.Hour))
			if n := len(plan.Delete); n > 0 {
				add("retention", CheckFail, "%d sets more than a day past retention (oldest %s); run `mutt backup prune`", n, plan.Delete[len(plan.Delete)-1].SetID)
			} else {
				add("retention", CheckPass, "no set more than a day past retention")
			}
		}
	}
	if rank >= levelRank(LevelQuarterly) {
		if err := checkQuarterly(add, o.Root, o.Now); err != nil {
			return rep, fmt.Errorf("checking backup status: %w", err)
		}
	}
	rep.OK = true
	for _, c := range rep.Checks {
		if c.Status == CheckFail {
			rep.OK = false
		}
	}
	return rep, nil
}

type addFunc func(name, status, format string, args ...any)

// checkComponent checks that the newest good set of name is younger than
// maxAge and that its last verification passed.
func checkComponent(add addFunc, ms []*Manifest, name string, maxAge time.Duration, now time.Time) {
	var newest *Manifest
	var skipReason string
	attempted := false
	for _, m := range ms {
		c := m.Component(name)
		if c == nil {
			continue
		}
		if c.Status == StatusSkipped {
			if skipReason == "" {
				skipReason = c.Reason
			}
			continue
		}
		attempted = true
		if c.Status == StatusOK {
			newest = m
			break
		}
	}
	backupCheck, verifyCheck := "backup:"+name, "verify:"+name
	switch {
	case newest == nil && !attempted && skipReason != "":
		add(backupCheck, CheckSkip, "every %s entry is skipped (%s)", name, skipReason)
		return
	case newest == nil:
		add(backupCheck, CheckFail, "no successful %s set; run `mutt backup run --components %s`", name, name)
		add(verifyCheck, CheckFail, "no %s set to verify", name)
		return
	}
	age := now.Sub(newest.Time())
	if age > maxAge {
		add(backupCheck, CheckFail, "newest good set %s is %s old (limit %s)", newest.SetID, roundAge(age), maxAge)
	} else {
		add(backupCheck, CheckPass, "newest good set %s is %s old (limit %s)", newest.SetID, roundAge(age), maxAge)
	}
	c := newest.Component(name)
	switch v := c.Verify; {
	case v == nil:
		add(verifyCheck, CheckFail, "set %s was never verified; run `mutt backup verify %s`", newest.SetID, newest.SetID)
	case v.Status != StatusOK:
		add(verifyCheck, CheckFail, "%s verify of %s failed at %s: %s", v.Level, newest.SetID, v.At.Format(time.RFC3339), v.Detail)
	case now.Sub(v.At) > maxAge:
		add(verifyCheck, CheckFail, "last verify of %s is %s old (limit %s)", newest.SetID, roundAge(now.Sub(v.At)), maxAge)
	default:
		add(verifyCheck, CheckPass, "%s verify of %s ok at %s", v.Level, newest.SetID, v.At.Format(time.RFC3339))
	}
}

// checkSigning checks that the newest good set of each component is signed
// by the configured signing key.
func checkSigning(add addFunc, ms []*Manifest, components []string, key ed25519.PublicKey, keyErr error) {
	switch {
	case keyErr != nil:
		add("signing", CheckFail, "%v", keyErr)
		return
	case key == nil:
		add("signing", CheckSkip, "no signing key configured (MUTT_BACKUP_SIGNING_KEY_FILE)")
		return
	}
	id := KeyID(key)
	var bad []string
	checked := 0
	for _, name := range components {
		for _, m := range ms {
			if c := m.Component(name); c == nil || c.Status != StatusOK {
				continue
			}
			checked++
			if !strings.HasPrefix(m.Signature, SignaturePrefix+id+":") {
				bad = append(bad, name+" "+m.SetID)
			}
			break
		}
	}
	if len(bad) > 0 {
		add("signing", CheckFail, "newest set not signed by key %s: %s", id, strings.Join(bad, ", "))
		return
	}
	add("signing", CheckPass, "newest set of %d components signed by key %s", checked, id)
}

func checkDisk(add addFunc, root string) {
	ratio, err := FilesystemUsedRatio(root)
	switch {
	case err != nil:
		add("disk", CheckFail, "%v", err)
	case ratio >= MaxUsedRatio:
		add("disk", CheckFail, "backup filesystem %.1f %% used (limit %.0f %%); run `mutt backup prune --dry-run`", ratio*100, MaxUsedRatio*100)
	default:
		add("disk", CheckPass, "backup filesystem %.1f %% used (limit %.0f %%)", ratio*100, MaxUsedRatio*100)
	}
}

// checkPartials looks for "*.partial" files older than PartialMaxAge: debris
// of a crashed run that prune removes.
func checkPartials(add addFunc, root string, now time.Time) {
	var old []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".partial") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if now.Sub(info.ModTime()) > PartialMaxAge {
			rel, _ := filepath.Rel(root, p)
			old = append(old, rel)
		}
		return nil
	})
	switch {
	case err != nil:
		add("partial-files", CheckFail, "scanning %s: %v", root, err)
	case len(old) > 0:
		sort.Strings(old)
		add("partial-files", CheckFail, "%d partial files older than a day (%s); run `mutt backup prune`", len(old), old[0])
	default:
		add("partial-files", CheckPass, "no partial file older than a day")
	}
}

func checkPermissions(add addFunc, root string, keyFiles []string) {
	fi, err := os.Stat(root)
	switch {
	case err != nil:
		add("permissions:root", CheckFail, "%v", err)
	case fi.Mode().Perm() != 0o700:
		add("permissions:root", CheckFail, "%s has mode %04o, want 0700; run `chmod 0700 %s`", root, fi.Mode().Perm(), root)
	default:
		add("permissions:root", CheckPass, "%s has mode 0700", root)
	}
	for _, f := range keyFiles {
		if f == "" {
			continue
		}
		name := "permissions:" + filepath.Base(f)
		fi, err := os.Stat(f)
		switch {
		case err != nil:
			add(name, CheckFail, "%v", err)
		case fi.Mode().Perm() != 0o400 && fi.Mode().Perm() != 0o600:
			add(name, CheckFail, "%s has mode %04o, want 0400 or 0600; run `chmod 0400 %s`", f, fi.Mode().Perm(), f)
		default:
			add(name, CheckPass, "%s has mode %04o", f, fi.Mode().Perm())
		}
	}
}

// checkRemotes checks that every good local set older than RemoteSyncGrace
// is on every configured remote.
func checkRemotes(add addFunc, ms []*Manifest, remotes []string, now time.Time) {
	if len(remotes) == 0 {
		add("remote-sync", CheckSkip, "no remotes configured (MUTT_BACKUP_REMOTES)")
		return
	}
	for _, r := range remotes {
		name := "remote-sync:" + RemoteLabel(r)
		missing, total := 0, 0
		var first string
		for _, m := range ms {
			if m.Status == SetFailed || now.Sub(m.Time()) < RemoteSyncGrace {
				continue
			}
			total++
			if !onRemote(m, r) {
				missing++
				if first == "" {
					first = m.SetID
				}
			}
		}
		if missing > 0 {
			add(name, CheckFail, "%d of %d sets older than %s are not on %s (newest %s); run `mutt backup sync`", missing, total, RemoteSyncGrace, RemoteLabel(r), first)
		} else {
			add(name, CheckPass, "all %d sets older than %s are on %s", total, RemoteSyncGrace, RemoteLabel(r))
		}
	}
}

func onRemote(m *Manifest, target string) bool {
	want := canonicalTarget(target)
	for _, r := range m.Remotes {
		if canonicalTarget(r.Target) == want && r.Status == StatusOK {
			return true
		}
	}
	return false
}

// canonicalTarget is the form sync records in manifests, so that
// "s3://b/p" and "s3://b/p/" name the same remote.
func canonicalTarget(s string) string {
	if t, err := ParseRemoteTarget(s); err == nil {
		return t.String()
	}
	return strings.TrimSuffix(s, "/") + "/"
}

// checkSizes flags a component whose newest good set is below half or above
// twice the median of its previous (up to 7) good sets. The RDB snapshot is
// left out: it holds the whole Redis instance, whatever else uses it, and
// is missing when Redis runs on another host, so its size says nothing about
// MUTT's data.
func checkSizes(add addFunc, ms []*Manifest) {
	sizes := map[string][]int64{} // newest first
	for _, m := range ms {
		for _, c := range m.Components {
			if c.Status != StatusOK || len(c.Artifacts) == 0 {
				continue
			}
			var n int64
			for _, a := range c.Artifacts {
				if a.Format != FormatRDB {
					n += a.Bytes
				}
			}
			sizes[c.Name] = append(sizes[c.Name], n)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sizes)) {
		s := sizes[name]
		check := "size:" + name
		if len(s) < 3 {
			add(check, CheckSkip, "%d sets, too few to compare", len(s))
			continue
		}
		prev := slices.Clone(s[1:min(len(s), 8)])
		slices.Sort(prev)
		median := prev[len(prev)/2]
		if len(prev)%2 == 0 {
			median = (prev[len(prev)/2-1] + prev[len(prev)/2]) / 2
		}
		if median > 0 && (s[0]*2 < median || s[0] > 2*median) {
			add(check, CheckFail, "newest set %d bytes, median of the %d before %d bytes (allowed 50 %%–200 %%)", s[0], len(prev), median)
		} else {
			add(check, CheckPass, "newest set %d bytes, median of the %d before %d bytes", s[0], len(prev), median)
		}
	}
}

// checkDeepVerify wants a passing deep verify within DeepVerifyMaxAge for
// every component that has good sets.
func checkDeepVerify(add addFunc, ms []*Manifest, now time.Time) {
	last := map[string]time.Time{}
	for _, m := range ms {
		for _, c := range m.Components {
			if c.Status != StatusOK {
				continue
			}
			if _, ok := last[c.Name]; !ok {
				last[c.Name] = time.Time{}
			}
			if v := c.Verify; v != nil && v.Level == VerifyDeep && v.Status == StatusOK && v.At.After(last[c.Name]) {
				last[c.Name] = v.At
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(last)) {
		check := "deep-verify:" + name
		switch at := last[name]; {
		case at.IsZero():
			add(check, CheckFail, "no passing deep verify of %s; run `mutt backup verify --latest-each --deep`", name)
		case now.Sub(at) > DeepVerifyMaxAge:
			add(check, CheckFail, "last passing deep verify of %s is %s old (limit 35 days)", name, roundAge(now.Sub(at)))
		default:
			add(check, CheckPass, "deep verify of %s passed at %s", name, at.Format(time.RFC3339))
		}
	}
}

// checkEncrypted wants every good set encrypted.
func checkEncrypted(add addFunc, ms []*Manifest) {
	var plain []string
	for _, m := range ms {
		if m.Status != SetFailed && (m.Encryption.Scheme == "" || strings.Contains(m.Encryption.Scheme, "plain")) {
			plain = append(plain, m.SetID)
		}
	}
	if len(plain) > 0 {
		add("encrypted-sets", CheckFail, "%d sets are not encrypted (%s)", len(plain), plain[0])
	} else {
		add("encrypted-sets", CheckPass, "every set is encrypted")
	}
}

// checkQuarterly checks the DR drill, its RTO targets and the alert test,
// and prints the manual items as reminders.
func checkQuarterly(add addFunc, root string, now time.Time) error {
	drills, err := ReadDrillRecords(root)
	if err != nil {
		return err
	}
	lastDrill := "never"
	switch {
	case len(drills) == 0:
		add("dr-drill", CheckFail, "no DR drill recorded; run `mutt restore drill`")
	case now.Sub(drills[0].At) > DrillMaxAge:
		add("dr-drill", CheckFail, "last DR drill %s is %s old (limit 92 days)", drills[0].At.Format(time.RFC3339), roundAge(now.Sub(drills[0].At)))
	default:
		add("dr-drill", CheckPass, "last DR drill at %s", drills[0].At.Format(time.RFC3339))
	}
	if len(drills) > 0 {
		lastDrill = drills[0].At.Format("2006-01-02")
		if drills[0].TargetsMet {
			add("dr-drill-rto", CheckPass, "last drill met the RTO/RPO targets")
		} else {
			add("dr-drill-rto", CheckFail, "last drill missed its targets: %s", drills[0].Detail)
		}
	}
	at, ok, err := ReadAlertTest(root)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		add("alert-test", CheckFail, "backup alerting never tested; run `mutt backup alert-test`")
	case now.Sub(at.At) > DrillMaxAge:
		add("alert-test", CheckFail, "last alert test %s is %s old (limit 92 days)", at.At.Format(time.RFC3339), roundAge(now.Sub(at.At)))
	default:
		add("alert-test", CheckPass, "alerting tested at %s", at.At.Format(time.RFC3339))
	}
	add("dr-documentation", CheckInfo, "manual: update the DR documentation if procedures changed since the last drill (%s)", lastDrill)
	add("retention-review", CheckInfo, "manual: review the retention policies (MUTT_BACKUP_RETENTION_<COMPONENT>, remote lifecycle rules)")
	return nil
}

func roundAge(d time.Duration) time.Duration {
	if d > time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}
