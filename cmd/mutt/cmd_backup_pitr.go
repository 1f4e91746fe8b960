package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/backup"
)

// pitrFlags are the flags of `mutt restore postgres` that make it a
// point-in-time restore into a new data directory.
type pitrFlags struct {
	toTime, toLSN string
	dataDir       string
	port          int
	osUser        string
	timeout       time.Duration
	asJSON        bool
}

func (f *pitrFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.toTime, "to-time", "", "point-in-time restore: replay up to this RFC 3339 time (with --target-datadir)")
	fs.StringVar(&f.toLSN, "to-lsn", "", "point-in-time restore: replay up to this WAL location, e.g. 0/3000148 (with --target-datadir)")
	fs.StringVar(&f.dataDir, "target-datadir", "", "point-in-time restore into this new data directory, left running on --port")
	fs.IntVar(&f.port, "port", 5433, "port of the restored server (127.0.0.1)")
	fs.StringVar(&f.osUser, "os-user", "postgres", "OS user the restored server runs as when mutt runs as root")
	fs.DurationVar(&f.timeout, "replay-timeout", 30*time.Minute, "how long the WAL replay may take")
	fs.BoolVar(&f.asJSON, "json", false, "point-in-time restore: print the result as JSON")
}

// pitr reports whether the flags ask for a point-in-time restore.
func (f *pitrFlags) pitr() bool { return f.dataDir != "" || f.toTime != "" || f.toLSN != "" }

// options checks the flags and turns them into backup.PITROptions.
func (f *pitrFlags) options(root, pgBin string, args []string) (backup.PITROptions, error) {
	o := backup.PITROptions{Root: root, DataDir: f.dataDir, Port: f.port, OSUser: f.osUser, Timeout: f.timeout, PgBin: pgBin}
	if f.dataDir == "" {
		return o, usageError{fmt.Errorf("--to-time and --to-lsn restore into a new data directory: give --target-datadir")}
	}
	if len(args) > 1 {
		return o, usageError{fmt.Errorf("give at most one base set id (or latest)")}
	}
	if len(args) == 1 {
		o.SetID = args[0]
	}
	if f.toTime != "" && f.toLSN != "" {
		return o, usageError{fmt.Errorf("--to-time and --to-lsn: give one of them")}
	}
	if f.toTime != "" {
		t, err := time.Parse(time.RFC3339Nano, f.toTime)
		if err != nil {
			return o, usageError{fmt.Errorf("--to-time %q is not an RFC 3339 time such as 2026-12-07T14:30:00Z", f.toTime)}
		}
		o.TargetTime = t
	}
	if f.toLSN != "" {
		l, err := backup.ParseLSN(f.toLSN)
		if err != nil || l == 0 {
			return o, usageError{fmt.Errorf("--to-lsn %q is not a WAL location such as 0/3000148", f.toLSN)}
		}
		o.TargetLSN = l
	}
	return o, nil
}

// runRestorePITR is `mutt restore postgres --target-datadir …`: a new
// server, so neither the running-services check nor a confirmation of a
// swap applies; the live database is not touched.
func runRestorePITR(cmd *cobra.Command, g *globalOptions, o *restoreOptions, f *pitrFlags, args []string) error {
	start := time.Now()
	opts, err := f.options(o.root, o.settings.PgBin, args)
	if err != nil {
		return err
	}
	if opts.Keys, err = o.keys(); err != nil {
		return err
	}
	if !f.asJSON {
		opts.Progress = g.stdout
	}
	res, err := backup.RestorePITR(cmd.Context(), opts)
	if err != nil {
		return err
	}
	if f.asJSON {
		return writeJSON(g.stdout, res)
	}
	reached := "no transaction after the base was replayed"
	if !res.ReachedTime.IsZero() {
		reached = "last transaction replayed committed at " + res.ReachedTime.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(g.stdout, "restored base %s and %d archived WAL files into %s\n", res.SetID, res.Segments, res.DataDir)
	fmt.Fprintf(g.stdout, "reached: %s\n", reached)
	if res.StopLine != "" {
		fmt.Fprintf(g.stdout, "server: %s\n", res.StopLine)
	}
	fmt.Fprintf(g.stdout, "the server is promoted and running on 127.0.0.1:%d (log %s); stop it with pg_ctl stop -D %s\n", res.Port, res.LogFile, res.DataDir)
	fmt.Fprintf(g.stdout, "RTO: %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}
