package backup

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PITROptions describe one point-in-time restore of PostgreSQL into a new
// data directory.
type PITROptions struct {
	Root string
	Keys *Keys
	// SetID picks the base backup; "" or "latest" picks the newest base
	// that ends before the target.
	SetID string
	// TargetTime, when not zero, stops the replay before the first
	// transaction committed after it. TargetLSN, when not zero, stops it
	// at that WAL location. Neither means replay to the end of the archive.
	TargetTime time.Time
	TargetLSN  LSN
	// DataDir is the new data directory; it must not exist or be empty.
	DataDir string
	// Port is the port the restored server listens on (127.0.0.1 only).
	Port int
	// PgBin is the directory of pg_ctl and pg_controldata; empty takes the
	// directory of the pg_ctl in PATH.
	PgBin string
	// OSUser runs the server when this process runs as root (PostgreSQL
	// refuses root); empty means "postgres".
	OSUser string
	// Timeout bounds the replay; zero means 30 minutes.
	Timeout time.Duration
	// Progress, when set, receives one line per step.
	Progress io.Writer
}

// PITRResult says what a point-in-time restore reached.
type PITRResult struct {
	SetID   string     `json:"set_id"`
	Base    PgBaseInfo `json:"base"`
	DataDir string     `json:"data_dir"`
	Port    int        `json:"port"`
	// Segments is the number of archived WAL files staged for the replay;
	// LastSegment the newest of them.
	Segments    int    `json:"segments"`
	LastSegment string `json:"last_segment"`
	// ReachedTime is the commit time of the last transaction replayed
	// (zero when the replay applied none).
	ReachedTime time.Time `json:"reached_time"`
	// StopLine is the server's own words about where recovery stopped.
	StopLine string `json:"stop_line"`
	LogFile  string `json:"log_file"`
}

// pitrLogName is the server log of a restored cluster, in its data directory.
const pitrLogName = "mutt-restore.log"

// Lines of the server log a restore reads.
var (
	stopLine   = regexp.MustCompile(`recovery stopping (?:before|after) .*`)
	lastTxLine = regexp.MustCompile(`last completed transaction was at log time (.+)$`)
	stopTxTime = regexp.MustCompile(`, time (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d(?::?\d\d)?)`)
	fatalLine  = regexp.MustCompile(`(FATAL|PANIC):\s+(.*)$`)
)

// pgLogTime is how PostgreSQL prints a timestamp with time zone in its log.
const pgLogTime = "2006-01-02 15:04:05.999999-07"

// RestorePITR restores a pgbase backup into a new data directory and
// replays the WAL archive onto it up to the target, then promotes the
// server and leaves it running on Port. Every archived WAL file the replay
// may need is checked (size and SHA-256 before and after decryption) and
// staged next to the data directory before the server starts, so a
// damaged or missing segment stops the restore before anything runs, with
// the segment named; the staged copies are removed once the server is
// promoted. The data directory is owned by OSUser when run as root.
func RestorePITR(ctx context.Context, o PITROptions) (PITRResult, error) {
	res := PITRResult{DataDir: o.DataDir, Port: o.Port}
	if o.Keys == nil || !o.Keys.CanDecrypt() {
		return res, errors.New("point-in-time restore: no identity to decrypt with; set MUTT_BACKUP_IDENTITY_FILE")
	}
	if o.DataDir == "" || !filepath.IsAbs(o.DataDir) {
		return res, fmt.Errorf("point-in-time restore: target data directory %q is not an absolute path", o.DataDir)
	}
	// The path goes into restore_command, which a shell runs.
	if strings.ContainsAny(o.DataDir, "'\"%\\$`\n") {
		return res, fmt.Errorf("point-in-time restore: target data directory %q holds a quote, %%, $, backquote or backslash", o.DataDir)
	}
	if o.Port <= 0 || o.Port > 65535 {
		return res, fmt.Errorf("point-in-time restore: port %d is not between 1 and 65535", o.Port)
	}
	if !o.TargetTime.IsZero() && o.TargetLSN != 0 {
		return res, errors.New("point-in-time restore: give a target time or a target LSN, not both")
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	m, info, err := pickBase(o)
	if err != nil {
		return res, err
	}
	res.SetID, res.Base = m.SetID, info
	c, err := VerifyComponent(o.Root, m, ComponentPgBase)
	if err != nil {
		return res, fmt.Errorf("point-in-time restore: %w", err)
	}
	uid, gid, err := serverOwner(o.OSUser)
	if err != nil {
		return res, err
	}
	bin, err := pgBinDir(o.PgBin)
	if err != nil {
		return res, err
	}
	if err := reachable(filepath.Dir(o.DataDir), uid, gid); err != nil {
		return res, err
	}
	if err := emptyOrAbsent(o.DataDir); err != nil {
		return res, err
	}
	staging := o.DataDir + ".mutt-wal"
	if err := emptyOrAbsent(staging); err != nil {
		return res, err
	}
	cleanup := func() {
		os.RemoveAll(staging)
	}
	started := false
	fail := func(err error) (PITRResult, error) {
		cleanup()
		if !started {
			os.RemoveAll(o.DataDir)
		}
		return res, fmt.Errorf("point-in-time restore from set %s: %w", m.SetID, err)
	}

	progress("base %s: WAL %s..%s, consistent from %s", m.SetID, info.StartWAL, info.StopWAL, info.StopTime.Format(time.RFC3339))
	names, err := stageWAL(o, info, staging, &res)
	if err != nil {
		return fail(err)
	}
	progress("staged %d archived WAL files (last %s)", len(names), res.LastSegment)
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fail(err)
	}
	if err := extractBase(o.Root, c, o.Keys, o.DataDir); err != nil {
		return fail(err)
	}
	if err := writeRecoveryConfig(o, staging); err != nil {
		return fail(err)
	}
	if uid >= 0 {
		for _, dir := range []string{o.DataDir, staging} {
			if err := chownTree(dir, uid, gid); err != nil {
				return fail(err)
			}
		}
	}
	res.LogFile = filepath.Join(o.DataDir, pitrLogName)
	progress("starting PostgreSQL on port %d to replay", o.Port)
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	// -w returns once the server accepts (read-only) connections or has
	// failed; the replay may go on after that.
	wait := strconv.Itoa(max(1, int(timeout/time.Second)))
	if err := runAs(ctx, uid, gid, filepath.Join(bin, "pg_ctl"), "start", "-D", o.DataDir, "-l", res.LogFile, "-w", "-t", wait); err != nil {
		return fail(fmt.Errorf("starting the server: %w%s", err, logTail(res.LogFile)))
	}
	started = true
	if err := waitPromoted(ctx, bin, o.DataDir, uid, gid, res.LogFile, timeout); err != nil {
		return fail(err)
	}
	cleanup()
	res.StopLine, res.ReachedTime = recoveryReached(res.LogFile)
	return res, nil
}

// pickBase finds the base backup of o: the named set, or the newest
// verified pgbase whose consistent point comes before the target.
func pickBase(o PITROptions) (*Manifest, PgBaseInfo, error) {
	if o.SetID != "" && o.SetID != "latest" {
		m, err := FindSet(o.Root, o.SetID, ComponentPgBase)
		if err != nil {
			return nil, PgBaseInfo{}, err
		}
		info, err := PgBaseInfoOf(m.Component(ComponentPgBase))
		if err != nil {
			return nil, info, fmt.Errorf("set %s: %w", m.SetID, err)
		}
		if !o.TargetTime.IsZero() && info.StopTime.After(o.TargetTime) {
			return nil, info, fmt.Errorf("set %s became consistent at %s, after the target %s; pick an older base with `mutt backup list --component pgbase`",
				m.SetID, info.StopTime.Format(time.RFC3339), o.TargetTime.Format(time.RFC3339))
		}
		return m, info, nil
	}
	ms, err := ListManifests(o.Root)
	if err != nil {
		return nil, PgBaseInfo{}, err
	}
	for _, m := range ms { // newest first
		c := m.Component(ComponentPgBase)
		if c == nil || c.Status != StatusOK || len(c.Artifacts) == 0 {
			continue
		}
		info, err := PgBaseInfoOf(c)
		if err != nil {
			continue
		}
		if !o.TargetTime.IsZero() && info.StopTime.After(o.TargetTime) {
			continue
		}
		if o.TargetLSN != 0 && info.StopLSN > o.TargetLSN {
			continue
		}
		return m, info, nil
	}
	what := "any"
	if !o.TargetTime.IsZero() {
		what = "a base consistent before " + o.TargetTime.Format(time.RFC3339)
	} else if o.TargetLSN != 0 {
		what = "a base ending before " + o.TargetLSN.String()
	}
	return nil, PgBaseInfo{}, fmt.Errorf("no pgbase backup under %s is %s; take one with `mutt backup run --profile base`", o.Root, what)
}

// stageWAL decrypts every archived WAL file the replay may need into
// staging: the timeline history files and the contiguous run of segments of
// the base's timeline from its start on (to the target LSN's segment when
// there is one). A hole in the run, or a damaged file, is an error naming
// the segment.
func stageWAL(o PITROptions, info PgBaseInfo, staging string, res *PITRResult) ([]string, error) {
	all, err := ListWAL(o.Root)
	if err != nil {
		return nil, err
	}
	first := info.StartWAL
	if !containsString(all, first) {
		// Bases carry their own span of WAL: the archive may start later.
		first = nextSegment(info.StopWAL, info.SegmentBytes)
	}
	chain, err := walChain(all, first, info.SegmentBytes)
	if o.TargetLSN != 0 {
		// Only the segments up to the target's matter; a hole after it
		// does not.
		last := SegmentName(info.Timeline, o.TargetLSN, info.SegmentBytes)
		if err != nil && len(chain) > 0 && chain[len(chain)-1] >= last {
			err = nil
		}
		var cut []string
		for _, n := range chain {
			if n <= last {
				cut = append(cut, n)
			}
		}
		chain = cut
	}
	if err != nil {
		return nil, err
	}
	if !o.TargetTime.IsZero() || o.TargetLSN != 0 {
		if len(chain) == 0 && (o.TargetLSN == 0 || o.TargetLSN > info.StopLSN) {
			return nil, fmt.Errorf("the archive holds no WAL after the base (WAL segment %s: %w); is archive_command set to `mutt backup wal-push %%p`?", first, ErrWALMissing)
		}
	}
	var names []string
	for _, n := range all {
		if strings.HasSuffix(n, ".history") {
			names = append(names, n)
		}
	}
	names = append(names, chain...)
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := FetchWAL(o.Root, n, filepath.Join(staging, n), o.Keys); err != nil {
			return nil, err
		}
	}
	res.Segments = len(names)
	if len(chain) > 0 {
		res.LastSegment = chain[len(chain)-1]
	}
	return names, nil
}

// extractBase unpacks the base backup's tar into dir through an os.Root,
// so no entry can leave it; links inside the data directory (tablespaces)
// are refused.
func extractBase(root string, c *Component, keys *Keys, dir string) error {
	r, err := OpenArtifact(root, c.Artifacts[0], keys)
	if err != nil {
		return err
	}
	defer r.Close()
	dst, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer dst.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading base backup %s: %w", c.Artifacts[0].Path, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if !filepath.IsLocal(name) {
			return fmt.Errorf("base backup entry %q leaves the data directory", hdr.Name)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := dst.MkdirAll(name, 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", name, err)
			}
		case tar.TypeReg:
			if d := filepath.Dir(name); d != "." {
				if err := dst.MkdirAll(d, 0o700); err != nil {
					return fmt.Errorf("creating %s: %w", d, err)
				}
			}
			f, err := dst.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o600)
			if err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
		default:
			return fmt.Errorf("base backup entry %q has tar type %q; tablespaces outside the data directory are not supported", hdr.Name, hdr.Typeflag)
		}
	}
	// The plaintext checksum is checked when the artifact is closed.
	return r.Close()
}

// writeRecoveryConfig makes the restored data directory a recovering,
// private server: settings appended to postgresql.auto.conf (they win
// over the copied ones), recovery.signal, and a configuration and
// authentication file where the base had none (Debian keeps them in /etc).
func writeRecoveryConfig(o PITROptions, staging string) error {
	d := o.DataDir
	for name, content := range map[string]string{
		"postgresql.conf": "# written by mutt restore postgres: the base had none\n",
		"pg_hba.conf":     "# written by mutt restore postgres: the base had none\nlocal all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n",
		"pg_ident.conf":   "",
	} {
		p := filepath.Join(d, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				return err
			}
		}
	}
	target := "recovery_target = 'immediate'\n"
	switch {
	case !o.TargetTime.IsZero():
		target = fmt.Sprintf("recovery_target_time = '%s'\n", o.TargetTime.UTC().Format(pgLogTime))
	case o.TargetLSN != 0:
		target = fmt.Sprintf("recovery_target_lsn = '%s'\n", o.TargetLSN)
	default:
		target = "" // replay to the end of the archive
	}
	conf := "\n# point-in-time restore by mutt restore postgres\n" +
		fmt.Sprintf("port = %d\n", o.Port) +
		"listen_addresses = '127.0.0.1'\n" +
		"unix_socket_directories = ''\n" +
		// A restored copy must not archive into the archive it came from.
		"archive_mode = off\n" +
		fmt.Sprintf("restore_command = 'cp \"%s/%%f\" \"%%p\"'\n", staging) +
		target +
		"recovery_target_action = 'promote'\n" +
		"recovery_target_timeline = 'latest'\n" +
		"logging_collector = off\n"
	f, err := os.OpenFile(filepath.Join(d, "postgresql.auto.conf"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, stale := range []string{"postmaster.pid", "standby.signal"} {
		os.Remove(filepath.Join(d, stale))
	}
	return os.WriteFile(filepath.Join(d, "recovery.signal"), nil, 0o600)
}

// waitPromoted polls pg_controldata until the cluster is in production, or
// fails when the server stopped (recovery failed) or timeout passed.
func waitPromoted(ctx context.Context, bin, dataDir string, uid, gid int, logFile string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		// The server removes recovery.signal when it ends recovery; the
		// copied pg_control says "in production" from the start.
		_, serr := os.Stat(filepath.Join(dataDir, "recovery.signal"))
		out, err := exec.CommandContext(ctx, filepath.Join(bin, "pg_controldata"), "-D", dataDir).Output()
		if errors.Is(serr, fs.ErrNotExist) && err == nil && strings.Contains(string(out), "Database cluster state:               in production") {
			return nil
		}
		if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("the server stopped during recovery%s", logTail(logFile))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the replay did not finish within %s: %w%s", timeout, ctx.Err(), logTail(logFile))
		case <-tick.C:
		}
	}
}

// recoveryReached reads where recovery stopped and the time of the last
// transaction it applied from the server log.
func recoveryReached(logFile string) (line string, at time.Time) {
	f, err := os.Open(logFile)
	if err != nil {
		return "", at
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if m := stopLine.FindString(l); m != "" {
			line = m
			// "after commit" applied that transaction; "before" did not.
			if t := stopTxTime.FindStringSubmatch(m); t != nil && strings.Contains(m, "stopping after commit") {
				if v, err := parsePGTime(t[1]); err == nil {
					at = v
				}
			}
		}
		if m := lastTxLine.FindStringSubmatch(l); m != nil {
			if v, err := parsePGTime(m[1]); err == nil {
				at = v
			}
			if line == "" {
				line = strings.TrimSpace(l[strings.Index(l, "last completed"):])
			}
		}
	}
	return line, at
}

// parsePGTime reads a timestamp as PostgreSQL logs it.
func parsePGTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not as PostgreSQL logs it", s)
}

// logTail returns the FATAL lines, or else the last lines, of a server
// log for an error message.
func logTail(logFile string) string {
	data, err := os.ReadFile(logFile)
	if err != nil {
		return ""
	}
	var fatal []string
	for _, l := range strings.Split(string(data), "\n") {
		if m := fatalLine.FindStringSubmatch(l); m != nil {
			fatal = append(fatal, m[2])
		}
	}
	if len(fatal) > 0 {
		return ": " + strings.Join(fatal, "; ")
	}
	return "; server log " + logFile + ": " + lastLines(string(data), 5)
}

// serverOwner returns the uid and gid to run the server as: -1, -1 when
// not root (the server runs as this user).
func serverOwner(name string) (uid, gid int, err error) {
	if os.Geteuid() != 0 {
		return -1, -1, nil
	}
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("point-in-time restore: PostgreSQL does not run as root and the OS user %q to run it as: %w", name, err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// pgBinDir returns the directory of the server programs.
func pgBinDir(dir string) (string, error) {
	if dir == "" {
		p, err := exec.LookPath("pg_ctl")
		if err != nil {
			return "", fmt.Errorf("point-in-time restore: pg_ctl not in PATH; set MUTT_BACKUP_PG_BIN to PostgreSQL's bin directory (e.g. /usr/lib/postgresql/15/bin): %w", err)
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dir = filepath.Dir(p)
	}
	for _, tool := range []string{"pg_ctl", "pg_controldata"} {
		if _, err := os.Stat(filepath.Join(dir, tool)); err != nil {
			return "", fmt.Errorf("point-in-time restore: %s not in %s: %w", tool, dir, err)
		}
	}
	return dir, nil
}

// emptyOrAbsent refuses a directory that holds anything.
func emptyOrAbsent(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("point-in-time restore: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("point-in-time restore: %s is not empty; give a new directory", dir)
	}
	return nil
}

// chownTree gives dir and everything below it to uid:gid, links
// themselves (never their targets).
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// runAs runs a server program, as uid:gid when they are not -1; its error
// carries the program's output.
func runAs(ctx context.Context, uid, gid int, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, prog, args...)
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(prog), args[0], err, lastLines(string(out), 5))
	}
	return nil
}

// StopCluster stops the server of dataDir (fast shutdown), as the data
// directory's owner when run as root.
func StopCluster(ctx context.Context, pgBin, dataDir string) error {
	bin, err := pgBinDir(pgBin)
	if err != nil {
		return err
	}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		fi, err := os.Stat(dataDir)
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	return runAs(ctx, uid, gid, filepath.Join(bin, "pg_ctl"), "stop", "-D", dataDir, "-m", "fast", "-w")
}

// deepPgBase restores c's base into a scratch data directory on a free
// port, replays the whole archive onto it, checks that the server comes
// up promoted, and removes it again.
func deepPgBase(ctx context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	tmp, err := os.MkdirTemp("", "mutt-verify-pgbase-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// The server's OS user must reach the data directory inside.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	dataDir := filepath.Join(tmp, "data")
	res, err := RestorePITR(ctx, PITROptions{
		Root: o.Root, Keys: o.Keys, SetID: o.Manifest.SetID, DataDir: dataDir, Port: port,
		PgBin: o.PgBin, OSUser: o.ServerUser,
	})
	if err != nil {
		return "", err
	}
	if err := StopCluster(context.WithoutCancel(ctx), o.PgBin, dataDir); err != nil {
		return "", fmt.Errorf("stopping the scratch server: %w", err)
	}
	reached := "no transaction after the base"
	if !res.ReachedTime.IsZero() {
		reached = "last transaction " + res.ReachedTime.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("restored into a scratch cluster, replayed %d archived WAL files (to %s), promoted; %s", res.Segments, res.LastSegment, reached), nil
}

// freePort returns a TCP port on 127.0.0.1 nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// reachable checks that the server's OS user (uid, gid; -1 for this user)
// can enter dir and every directory above it, where the data directory and
// the staged WAL go. Supplementary groups are not looked at.
func reachable(dir string, uid, gid int) error {
	if uid < 0 {
		return nil
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("point-in-time restore: the directory the data directory goes in must exist: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		// This process creates the directories and hands them over, so
		// the server needs to pass through only.
		const need = fs.FileMode(0o1)
		var have fs.FileMode
		switch {
		case int(st.Uid) == uid:
			have = perm >> 6
		case int(st.Gid) == gid:
			have = perm >> 3 & 0o7
		default:
			have = perm & 0o7
		}
		if have&need != need {
			return fmt.Errorf("point-in-time restore: the server's OS user (uid %d) cannot enter %s (mode %s); pick a --target-datadir under a directory it can reach, e.g. /var/lib/postgresql",
				uid, p, perm)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
