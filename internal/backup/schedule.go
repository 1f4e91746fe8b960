package backup

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ScheduleOptions says how the scheduled backup jobs run.
type ScheduleOptions struct {
	// Binary is the absolute path of the mutt executable.
	Binary string
	// Root is the backup root the jobs write to.
	Root string
	// User runs the jobs; empty means "mutt".
	User string
	// EnvFile is loaded by every job for MUTT's settings (secrets stay in
	// it, never on a command line); empty means /etc/mutt/mutt.env.
	EnvFile string
	// MetricsFile is the textfile the jobs write metrics to; its directory
	// is made writable in the units. Empty means DefaultMetricsFile.
	MetricsFile string
	// PITR adds the jobs point-in-time recovery relies on (PITRJobs): a
	// daily base backup and the archiving check every five minutes.
	PITR bool
}

// Job is one scheduled backup task: a systemd calendar expression, the
// equivalent cron fields and the mutt commands it runs in order, each only
// after the previous one succeeded.
type Job struct {
	// Name is the unit name without suffix, e.g. mutt-backup-daily.
	Name string
	// Description says what the job does.
	Description string
	// OnCalendar is the systemd calendar expression.
	OnCalendar string
	// Cron is the five cron time fields.
	Cron string
	// CronGuard, when set, is a shell test that must pass before the
	// commands run: cron ORs day-of-month and day-of-week, so "first Sunday"
	// is day-of-month 1-7 plus a weekday test, never "1 * 0".
	CronGuard string
	// Commands are the mutt arguments of each step.
	Commands [][]string
}

// ScheduleJobs returns the default schedule of the backup profiles (spec
// §1.9.2): hourly pgconfig at :15, redis every 6 h, daily at 02:00 followed
// by prune, weekly on Sunday 02:30, sync at 00:30/06:30/12:30/18:30 and a
// deep verify on the first Sunday of the month at 03:00.
func ScheduleJobs() []Job {
	return []Job{
		{
			Name: "mutt-backup-hourly", Description: "MUTT hourly backup of the business tables (pgconfig)",
			OnCalendar: "*-*-* *:15:00", Cron: "15 * * * *",
			Commands: [][]string{{"backup", "run", "--profile", "hourly"}},
		},
		{
			Name: "mutt-backup-redis", Description: "MUTT 6-hourly Redis backup",
			OnCalendar: "*-*-* 00,06,12,18:00:00", Cron: "0 0,6,12,18 * * *",
			Commands: [][]string{{"backup", "run", "--profile", "redis"}},
		},
		{
			// Prune runs only after a successful daily backup, so nothing
			// is removed while the newest backup is bad.
			Name: "mutt-backup-daily", Description: "MUTT daily backup (postgres, redis, config, logs), then prune",
			OnCalendar: "*-*-* 02:00:00", Cron: "0 2 * * *",
			Commands: [][]string{{"backup", "run", "--profile", "daily"}, {"backup", "prune", "--yes"}},
		},
		{
			Name: "mutt-backup-weekly", Description: "MUTT weekly backup (vault, prometheus)",
			OnCalendar: "Sun *-*-* 02:30:00", Cron: "30 2 * * 0",
			Commands: [][]string{{"backup", "run", "--profile", "weekly"}},
		},
		{
			Name: "mutt-backup-sync", Description: "MUTT 6-hourly sync of backup sets to the remotes",
			OnCalendar: "*-*-* 00,06,12,18:30:00", Cron: "30 0,6,12,18 * * *",
			Commands: [][]string{{"backup", "sync"}},
		},
		{
			Name: "mutt-backup-deep-verify", Description: "MUTT monthly deep verify (test restore) of the latest sets",
			OnCalendar: "Sun *-*-01..07 03:00:00", Cron: "0 3 1-7 * *", CronGuard: `[ "$(date +\%u)" = 7 ]`,
			Commands: [][]string{{"backup", "verify", "--latest-each", "--deep"}},
		},
	}
}

// PITRJobs are the jobs of a site that relies on point-in-time recovery
// (WAL archiving on, the database role allowed to replicate): a base
// backup every day at 01:30, before the daily set, so that prune keeps the
// WAL from the oldest kept base on; and `backup status` every five
// minutes, which fails when archiving lags past MUTT_BACKUP_WAL_LAG_MAX
// and keeps the lag metric fresh.
func PITRJobs() []Job {
	return []Job{
		{
			Name: "mutt-backup-base", Description: "MUTT daily base backup for point-in-time recovery (pgbase)",
			OnCalendar: "*-*-* 01:30:00", Cron: "30 1 * * *",
			Commands: [][]string{{"backup", "run", "--profile", ProfileBase}},
		},
		{
			Name: "mutt-backup-wal-status", Description: "MUTT WAL archiving check (fails when archiving lags)",
			OnCalendar: "*-*-* *:00/5:00", Cron: "*/5 * * * *",
			Commands: [][]string{{"backup", "status"}},
		},
	}
}

// jobs are the jobs o renders.
func (o ScheduleOptions) jobs() []Job {
	if o.PITR {
		return append(ScheduleJobs(), PITRJobs()...)
	}
	return ScheduleJobs()
}

// Unit is one rendered systemd unit file.
type Unit struct {
	// Name is the file name, e.g. mutt-backup-daily.timer.
	Name string
	// Content is the file's text.
	Content string
}

func (o ScheduleOptions) withDefaults() ScheduleOptions {
	if o.User == "" {
		o.User = "mutt"
	}
	if o.EnvFile == "" {
		o.EnvFile = "/etc/mutt/mutt.env"
	}
	if o.MetricsFile == "" {
		o.MetricsFile = DefaultMetricsFile
	}
	if o.Binary == "" {
		o.Binary = "/usr/local/bin/mutt"
	}
	return o
}

// Validate reports options the units cannot be rendered with.
func (o ScheduleOptions) Validate() error {
	o = o.withDefaults()
	if !filepath.IsAbs(o.Binary) {
		return fmt.Errorf("binary %q: want an absolute path", o.Binary)
	}
	if !filepath.IsAbs(o.Root) {
		return fmt.Errorf("backup root %q: want an absolute path", o.Root)
	}
	for name, v := range map[string]string{"binary": o.Binary, "backup root": o.Root, "user": o.User, "env file": o.EnvFile, "metrics file": o.MetricsFile} {
		if strings.ContainsAny(v, " \t\n\"'\\%$;&|`") {
			return fmt.Errorf("%s %q: spaces, quotes and shell characters are not supported", name, v)
		}
	}
	return nil
}

// RenderSystemdUnits returns a .service and a .timer per job. Services are
// oneshot, run as o.User with a hardened sandbox that can write only the
// backup root and the metrics directory; timers are Persistent so a run
// missed while the host was down happens at boot.
func RenderSystemdUnits(o ScheduleOptions) ([]Unit, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("rendering systemd units: %w", err)
	}
	o = o.withDefaults()
	var units []Unit
	for _, j := range o.jobs() {
		var svc strings.Builder
		fmt.Fprintf(&svc, "# Rendered by `mutt backup schedule install`.\n[Unit]\nDescription=%s\n", j.Description)
		svc.WriteString("Wants=network-online.target\nAfter=network-online.target postgresql.service redis.service\n\n")
		svc.WriteString("[Service]\nType=oneshot\n")
		fmt.Fprintf(&svc, "User=%s\nGroup=%s\n", o.User, o.User)
		fmt.Fprintf(&svc, "EnvironmentFile=-%s\n", o.EnvFile)
		fmt.Fprintf(&svc, "Environment=MUTT_BACKUP_ROOT=%s\n", o.Root)
		fmt.Fprintf(&svc, "Environment=MUTT_BACKUP_METRICS_FILE=%s\n", o.MetricsFile)
		for _, c := range j.Commands {
			fmt.Fprintf(&svc, "ExecStart=%s %s\n", o.Binary, strings.Join(c, " "))
		}
		svc.WriteString("UMask=0077\nNoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\n")
		svc.WriteString("PrivateDevices=yes\nProtectKernelTunables=yes\nProtectKernelModules=yes\nProtectControlGroups=yes\n")
		svc.WriteString("RestrictSUIDSGID=yes\nLockPersonality=yes\n")
		fmt.Fprintf(&svc, "ReadWritePaths=%s\n", o.Root)
		fmt.Fprintf(&svc, "ReadWritePaths=-%s\n", filepath.Dir(o.MetricsFile))
		svc.WriteString("Nice=10\nIOSchedulingClass=best-effort\nIOSchedulingPriority=7\n")
		units = append(units, Unit{Name: j.Name + ".service", Content: svc.String()})

		var tmr strings.Builder
		fmt.Fprintf(&tmr, "# Rendered by `mutt backup schedule install`.\n[Unit]\nDescription=Timer: %s\n\n", j.Description)
		fmt.Fprintf(&tmr, "[Timer]\nOnCalendar=%s\nPersistent=true\nAccuracySec=1min\nUnit=%s.service\n\n", j.OnCalendar, j.Name)
		tmr.WriteString("[Install]\nWantedBy=timers.target\n")
		units = append(units, Unit{Name: j.Name + ".timer", Content: tmr.String()})
	}
	return units, nil
}

// RenderCrontab returns /etc/cron.d lines (with the user field) equivalent
// to the systemd timers. Steps of a job are chained with && so prune runs
// only after a successful daily backup, and the first-Sunday rule uses a
// date test because cron ORs day-of-month with day-of-week.
func RenderCrontab(o ScheduleOptions) (string, error) {
	if err := o.Validate(); err != nil {
		return "", fmt.Errorf("rendering crontab: %w", err)
	}
	o = o.withDefaults()
	var b strings.Builder
	b.WriteString("# MUTT backups, rendered by `mutt backup schedule show --cron`; install as /etc/cron.d/mutt-backup.\n")
	b.WriteString("# Settings and secrets come from the environment file, never from this file.\n")
	b.WriteString("SHELL=/bin/sh\n")
	fmt.Fprintf(&b, "MUTT_BACKUP_ROOT=%s\n", o.Root)
	fmt.Fprintf(&b, "MUTT_BACKUP_METRICS_FILE=%s\n", o.MetricsFile)
	for _, j := range o.jobs() {
		steps := make([]string, len(j.Commands))
		for i, c := range j.Commands {
			steps[i] = o.Binary + " " + strings.Join(c, " ")
		}
		cmd := strings.Join(steps, " && ")
		// set -a exports the file's variables to mutt; a missing file is
		// not an error, as with systemd's "EnvironmentFile=-".
		env := fmt.Sprintf("{ [ ! -r %s ] || { set -a; . %s; set +a; }; }", o.EnvFile, o.EnvFile)
		line := env + " && " + cmd
		if j.CronGuard != "" {
			line = j.CronGuard + " && " + line
		}
		fmt.Fprintf(&b, "# %s\n%s %s %s\n", j.Description, j.Cron, o.User, line)
	}
	return b.String(), nil
}
