package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/secrets"
)

// remoteSettingsHelp documents the remote settings in every remote command.
const remoteSettingsHelp = `
Settings (environment):
  MUTT_BACKUP_REMOTES                 comma list of targets: s3://bucket/prefix, file:///mnt/nas/mutt
                                      (objects go under <prefix>/<hostname>/<local layout>)
  MUTT_BACKUP_S3_ENDPOINT             S3 endpoint host[:port] (default s3.amazonaws.com)
  MUTT_BACKUP_S3_REGION               bucket region (default AWS_REGION, else discovered)
  MUTT_BACKUP_S3_INSECURE             true to use plain HTTP (test endpoints only)
  MUTT_BACKUP_S3_STORAGE_CLASS        upload storage class (default: the bucket's, STANDARD)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or *_FILE)
                                      credentials; without them the AWS credential chain is used
  MUTT_BACKUP_REMOTE_RETENTION_<C>    remote retention of component C, e.g. 365d
  MUTT_BACKUP_REMOTE_TRANSITION_<C>   storage class change of component C, e.g. 90d:GLACIER, or none

Exit codes: 0 ok, 1 a set or check failed, 2 usage or configuration error,
75 another run holds the backup root's lock.`

// remoteOptions are the remote settings shared by sync, pull and lifecycle.
type remoteOptions struct {
	s3 backup.S3Options
}

// loadRemoteOptions takes the S3 endpoint from the backup settings s and
// the credentials from the environment; secrets never come from flags.
func loadRemoteOptions(s backup.Settings) (remoteOptions, error) {
	o := remoteOptions{s3: s.S3}
	access, hasAccess, err := secrets.FromEnv(os.LookupEnv, "AWS_ACCESS_KEY_ID")
	if err != nil {
		return o, usageError{err}
	}
	secret, hasSecret, err := secrets.FromEnv(os.LookupEnv, "AWS_SECRET_ACCESS_KEY")
	if err != nil {
		return o, usageError{err}
	}
	token, _, err := secrets.FromEnv(os.LookupEnv, "AWS_SESSION_TOKEN")
	if err != nil {
		return o, usageError{err}
	}
	if hasAccess != hasSecret {
		return o, usageError{errors.New("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their _FILE variants), or neither to use the AWS credential chain")}
	}
	if hasAccess {
		o.s3.AccessKey, o.s3.SecretKey, o.s3.SessionToken = access.Reveal(), secret, token
	}
	return o, nil
}

// openRemotes opens targets (or, when none is named, every remote of s)
// for host.
func openRemotes(s backup.Settings, targets []string, host string) ([]backup.RemoteStore, error) {
	if len(targets) == 0 {
		targets = s.Remotes
	}
	if len(targets) == 0 {
		return nil, usageError{errors.New("no remote: set MUTT_BACKUP_REMOTES or pass --remote")}
	}
	o, err := loadRemoteOptions(s)
	if err != nil {
		return nil, err
	}
	var out []backup.RemoteStore
	for _, t := range targets {
		st, err := backup.OpenRemote(t, host, o.s3)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, st)
	}
	return out, nil
}

func hostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}

// byteProgress returns a progress callback drawing a bar on standard error
// when it is a terminal, or nil.
func byteProgress(g *globalOptions, what string) (backup.ProgressFunc, func()) {
	f, ok := g.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)
	var shown int64 = -1
	return func(done, total int64) {
			if total != shown {
				shown = total
				bar.ChangeMax64(total)
			}
			_ = bar.Set64(done)
		}, func() {
			_ = bar.Finish()
		}
}

// syncOutcome turns sync results into the command's error: nil when every
// set is ok or skipped.
func syncOutcome(results []backup.SyncResult) error {
	var bad []string
	for _, r := range results {
		if r.Status == backup.StatusFailed {
			bad = append(bad, r.SetID+" to "+r.Target+": "+r.Reason)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("sync failed for %d sets: %s", len(bad), strings.Join(bad, "; "))
	}
	return nil
}

// printSyncResults writes one line per set that was acted on and a count
// of those already synced.
func printSyncResults(w io.Writer, results []backup.SyncResult) {
	skipped := 0
	for _, r := range results {
		switch r.Status {
		case backup.SyncSkipped:
			skipped++
		case backup.StatusOK:
			fmt.Fprintf(w, "synced  %s to %s (%d uploaded, %s; %d already there)\n", r.SetID, r.Target, r.Uploaded, health.FormatBytes(r.Bytes), r.Present)
			for _, p := range r.Repaired {
				fmt.Fprintf(w, "  repaired corrupt remote copy of %s\n", p)
			}
		default:
			fmt.Fprintf(w, "FAILED  %s to %s: %s\n", r.SetID, r.Target, r.Reason)
		}
	}
	if skipped > 0 {
		fmt.Fprintf(w, "%d sets needed no sync\n", skipped)
	}
}

func newBackupSyncCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		remotes      []string
		sets         []string
		verifyRemote bool
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "sync [--remote R] [--set ID] [--verify-remote]",
		Short: "Copy backup sets to the remotes (S3, NAS)",
		Long: `Copy every set not yet on each remote: artifacts first (one already there with
the same size and SHA-256 is not uploaded again), each checked after upload
(size and the recorded SHA-256, or a full re-download with --verify-remote),
then the manifest last; the remote is then recorded in the local manifest.
Sets marked plaintext are refused. A failing set does not stop the others.
With --verify-remote, sets already synced are checked again and corrupt
remote copies are replaced.
` + remoteSettingsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stores, err := openRemotes(b.settings, remotes, hostName())
			if err != nil {
				return err
			}
			progress, done := byteProgress(g, "sync")
			results, err := backup.Sync(cmd.Context(), backup.SyncOptions{
				Root: b.root, Remotes: stores, SetIDs: sets, VerifyRemote: verifyRemote, Progress: progress,
			})
			done()
			if err != nil {
				return lockedError(err)
			}
			b.updateMetrics(g)
			if asJSON {
				if results == nil {
					results = []backup.SyncResult{}
				}
				if err := writeJSON(g.stdout, results); err != nil {
					return err
				}
			} else {
				printSyncResults(g.stdout, results)
			}
			return syncOutcome(results)
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&remotes, "remote", nil, "only this target (default: every MUTT_BACKUP_REMOTES entry)")
	fs.StringSliceVar(&sets, "set", nil, "only this set id; checked on the remote even if recorded as synced")
	fs.BoolVar(&verifyRemote, "verify-remote", false, "re-download and hash every object instead of trusting remote metadata")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// syncAfterRun syncs to every configured remote after `backup run`, unless
// noSync or no remote is configured, and refreshes m from disk so that it
// shows the remotes. Results go to standard output, or standard error when
// standard output carries JSON.
func syncAfterRun(ctx context.Context, g *globalOptions, b *backupOptions, m *backup.Manifest, noSync, asJSON bool) error {
	if noSync || len(b.settings.Remotes) == 0 {
		return nil
	}
	// The set exists by now, so neither a configuration error nor a held
	// lock may claim that nothing was done: both are plain failures.
	stores, err := openRemotes(b.settings, nil, hostName())
	if err != nil {
		return fmt.Errorf("set %s made but not synced: %s", m.SetID, err.Error())
	}
	results, err := backup.Sync(ctx, backup.SyncOptions{Root: b.root, Remotes: stores})
	if err != nil {
		return fmt.Errorf("set %s made but not synced: %s", m.SetID, err.Error())
	}
	out := g.stdout
	if asJSON {
		out = g.stderr
	}
	printSyncResults(out, results)
	if rel, err := backup.ManifestPath(m.SetID); err == nil {
		if fresh, err := backup.ReadManifest(filepath.Join(b.root, rel)); err == nil {
			*m = *fresh
		}
	}
	return syncOutcome(results)
}

func newBackupPullCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		from   string
		host   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "pull <id|latest> --from R",
		Short: "Download a backup set from a remote and verify it",
		Long: `Download a set's manifest, then every artifact into the backup root (through
*.partial files), checking each against the manifest's size and SHA-256.
The local manifest is written last and only when every artifact matches; a
bad artifact is named in the error. --host picks another host's directory
on the remote (a rebuilt server pulling the old one's sets).
` + remoteSettingsHelp,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("pull takes one set id or latest")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usageError{errors.New("--from is required: the remote target to pull from")}
			}
			if args[0] != "latest" {
				if _, err := backup.SetTime(args[0]); err != nil {
					return usageError{fmt.Errorf("%q is neither a set id nor latest", args[0])}
				}
			}
			stores, err := openRemotes(b.settings, []string{from}, host)
			if err != nil {
				return err
			}
			trusted, err := b.trustedKeys(g)
			if err != nil {
				return err
			}
			progress, done := byteProgress(g, "pull")
			res, err := backup.Pull(cmd.Context(), backup.PullOptions{Root: b.root, Remote: stores[0], Set: args[0], Progress: progress, Trusted: trusted})
			done()
			if res != nil {
				if asJSON {
					if jerr := writeJSON(g.stdout, res); jerr != nil {
						return jerr
					}
				} else if err == nil {
					fmt.Fprintf(g.stdout, "pulled %s from %s (%d downloaded, %s; %d already here)\n",
						res.SetID, res.Target, res.Downloaded, health.FormatBytes(res.Bytes), res.Present)
				}
			}
			if err != nil {
				return lockedError(err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&from, "from", "", "remote target, e.g. s3://mutt-backups-prod/ or file:///mnt/backup-nas/mutt")
	fs.StringVar(&host, "host", hostName(), "host directory on the remote")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBackupLifecycleCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		remote   string
		byPrefix bool
		hosts    []string
		dryRun   bool
		yes      bool
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "lifecycle render|apply|check --remote R [--by-prefix]",
		Short: "Render, apply or check the S3 lifecycle rules of remote retention",
		Long: `Generate the bucket lifecycle rules that enforce remote retention from the
MUTT_BACKUP_REMOTE_RETENTION_<C> and MUTT_BACKUP_REMOTE_TRANSITION_<C>
settings, for the key layout sync really writes. Rules select objects by the
mutt-component tag (or, with --by-prefix, by <prefix>/<host>/<component>/) and
all require mutt-pinned=false: pinned sets never expire.

  render  print the rules as JSON
  apply   replace MUTT's rules in the bucket (other rules are kept); asks
          for confirmation unless --yes; --dry-run prints the result instead
  check   compare the bucket's rules with the rendered ones; exit 1 naming
          each difference
` + remoteSettingsHelp,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains([]string{"render", "apply", "check"}, args[0]) {
				return usageError{errors.New("lifecycle takes one of render, apply, check")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if remote == "" {
				var s3 []string
				for _, t := range b.settings.Remotes {
					if strings.HasPrefix(t, "s3://") {
						s3 = append(s3, t)
					}
				}
				if len(s3) != 1 {
					return usageError{fmt.Errorf("name the S3 remote with --remote (MUTT_BACKUP_REMOTES holds %d s3:// targets)", len(s3))}
				}
				remote = s3[0]
			}
			target, err := backup.ParseRemoteTarget(remote)
			if err != nil {
				return usageError{err}
			}
			opts := backup.LifecycleOptions{Target: target, Components: b.settings.RemoteLifecycle, ByPrefix: byPrefix, Hosts: hosts}
			rendered, err := backup.RenderLifecycle(opts)
			if err != nil {
				return usageError{err}
			}
			if args[0] == "render" {
				return writeJSON(g.stdout, rendered)
			}
			ro, err := loadRemoteOptions(b.settings)
			if err != nil {
				return err
			}
			st, err := backup.NewS3Remote(target, hostName(), ro.s3)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			current, err := st.Lifecycle(ctx)
			if err != nil {
				return err
			}
			if args[0] == "check" {
				diffs := backup.DiffLifecycle(rendered, current, opts)
				if asJSON {
					if diffs == nil {
						diffs = []string{}
					}
					if err := writeJSON(g.stdout, map[string]any{"target": target.String(), "differences": diffs}); err != nil {
						return err
					}
				} else {
					for _, d := range diffs {
						fmt.Fprintln(g.stdout, d)
					}
				}
				if len(diffs) > 0 {
					return fmt.Errorf("lifecycle of %s differs from the settings in %d ways; run `mutt backup lifecycle apply`", target, len(diffs))
				}
				if !asJSON {
					fmt.Fprintf(g.stdout, "lifecycle of %s matches the settings\n", target)
				}
				return nil
			}
			merged := backup.MergeLifecycle(current, rendered, opts)
			if dryRun {
				return writeJSON(g.stdout, merged)
			}
			diffs := backup.DiffLifecycle(rendered, current, opts)
			if len(diffs) == 0 {
				fmt.Fprintf(g.stdout, "lifecycle of %s already matches the settings\n", target)
				return nil
			}
			what := fmt.Sprintf("replace MUTT's lifecycle rules of bucket %s (%d differences)", target.Bucket, len(diffs))
			if err := confirm(cmd, g, yes, "apply the lifecycle", what+"?"); err != nil {
				return err
			}
			if err := st.SetLifecycle(ctx, merged); err != nil {
				return err
			}
			// Foreign rules are kept, so what they cause remains.
			remaining := backup.DiffLifecycle(rendered, merged, opts)
			for _, d := range diffs {
				if !slices.Contains(remaining, d) {
					fmt.Fprintln(g.stdout, "fixed:", d)
				}
			}
			fmt.Fprintf(g.stdout, "lifecycle of %s applied (%d rules)\n", target, len(merged.Rules))
			if len(remaining) > 0 {
				return fmt.Errorf("applied, but rules MUTT does not own still differ; remove them from the bucket by hand: %s", strings.Join(remaining, "; "))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&remote, "remote", "", "S3 target (default: the only s3:// entry of MUTT_BACKUP_REMOTES)")
	fs.BoolVar(&byPrefix, "by-prefix", false, "select by <prefix>/<host>/<component>/ instead of the mutt-component tag")
	fs.StringSliceVar(&hosts, "host", []string{hostName()}, "host directories the rules cover")
	fs.BoolVar(&dryRun, "dry-run", false, "apply: print the configuration instead of setting it")
	fs.BoolVar(&yes, "yes", false, "apply: do not ask for confirmation")
	fs.BoolVar(&asJSON, "json", false, "check: print JSON")
	return cmd
}
