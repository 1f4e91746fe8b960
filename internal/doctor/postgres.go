package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"
)

func noPostgres(o *Options) Finding {
	if o.PostgresError != nil {
		return fail("PostgreSQL: "+o.PostgresError.Error(), "", "check DB_HOST/DB_PORT/DB_NAME, the password and pg_hba.conf (`mutt health`)")
	}
	return skipped("PostgreSQL not configured")
}

func checkPGConnections(ctx context.Context, o *Options) Finding {
	if o.Postgres == nil {
		return noPostgres(o)
	}
	var used, max, idle int
	err := o.Postgres.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
		       current_setting('max_connections')::int,
		       (SELECT count(*) FROM pg_stat_activity
		         WHERE state = 'idle' AND state_change < now() - interval '10 minutes')`).Scan(&used, &max, &idle)
	if err != nil {
		return fail("reading pg_stat_activity: "+err.Error(), "", "check that the MUTT role may read pg_stat_activity (pg_monitor)")
	}
	th := o.Thresholds
	ratio := float64(used) / float64(max)
	return finding(judge(ratio, th.PGConnectionsWarn, th.PGConnectionsFail),
		fmt.Sprintf("%d of max_connections %d (%.0f%%), %d idle for over 10 min", used, max, ratio*100, idle),
		fmt.Sprintf("warn > %.0f%% / fail > %.0f%%", th.PGConnectionsWarn*100, th.PGConnectionsFail*100),
		"pool sizes × instances exceed the server: lower DB_POOL_MAX_CONN, end idle sessions, or put PgBouncer in front")
}

func checkPartitions(ctx context.Context, o *Options) Finding {
	if o.Postgres == nil {
		return noPostgres(o)
	}
	rows, err := o.Postgres.Query(ctx, `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'event_audit_log'::regclass`)
	if err != nil {
		return fail("listing audit partitions: "+err.Error(), "", "run `mutt migrate`: the audit table is missing")
	}
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fail("listing audit partitions: "+err.Error(), "", "check PostgreSQL")
		}
		have[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail("listing audit partitions: "+err.Error(), "", "check PostgreSQL")
	}
	now := o.Now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	want := o.Thresholds.PartitionsAhead
	threshold := fmt.Sprintf("current month and %d ahead; fail when the current month is missing", want)
	remedy := "run `mutt retention run` (it creates the partitions ahead), or let a running alerter create them; events of a month without a partition land in the default partition"
	if !have[partitionName(first)] {
		return fail(partitionName(first)+" (the current month) is missing", threshold, remedy)
	}
	ahead := 0
	var missing []string
	for i := 1; i <= want; i++ {
		n := partitionName(first.AddDate(0, i, 0))
		if have[n] {
			ahead++
		} else {
			missing = append(missing, n)
		}
	}
	value := fmt.Sprintf("current month and %d of the next %d months", ahead, want)
	if len(missing) > 0 {
		return warn(value+"; missing "+strings.Join(missing, ", "), threshold, remedy)
	}
	return ok(value, threshold)
}

// partitionName is the audit partition of the UTC month starting at t.
func partitionName(t time.Time) string {
	return fmt.Sprintf("event_audit_log_%04d_%02d", t.Year(), int(t.Month()))
}

func checkRetention(ctx context.Context, o *Options) Finding {
	if o.Postgres == nil {
		return noPostgres(o)
	}
	var last *time.Time
	err := o.Postgres.QueryRow(ctx, `SELECT max(changed_at) FROM config_audit_log WHERE changed_by = $1`, RetentionActor).Scan(&last)
	if err != nil {
		return fail("reading config_audit_log: "+err.Error(), "", "run `mutt migrate`")
	}
	threshold := fmt.Sprintf("last run warn > %s ago", o.Thresholds.RetentionStale)
	remedy := "enable the timer: `systemctl enable --now mutt-retention.timer`, or run `mutt retention run`"
	if last == nil {
		return warn("retention has never run", threshold, remedy)
	}
	age := o.Now().Sub(*last)
	return finding(judge(float64(age), float64(o.Thresholds.RetentionStale), 1e300),
		fmt.Sprintf("last run %s ago", age.Round(time.Minute)), threshold, remedy)
}

// checkArchivingLag reports audit rows older than the active period plus
// a month (a partition is archived once its whole month is past it) and
// two days of slack: retention is not keeping up.
func checkArchivingLag(ctx context.Context, o *Options) Finding {
	if o.Postgres == nil {
		return noPostgres(o)
	}
	var oldest *time.Time
	if err := o.Postgres.QueryRow(ctx, "SELECT min(event_timestamp) FROM event_audit_log").Scan(&oldest); err != nil {
		return fail("reading the oldest audit row: "+err.Error(), "", "run `mutt migrate`")
	}
	limit := time.Duration(o.Thresholds.ActiveDays+31+2) * 24 * time.Hour
	threshold := fmt.Sprintf("oldest live audit row warn > %d days (active period %d days + a month + 2 days)", o.Thresholds.ActiveDays+33, o.Thresholds.ActiveDays)
	if oldest == nil {
		return ok("event_audit_log is empty", threshold)
	}
	age := o.Now().Sub(*oldest)
	s := judge(float64(age), float64(limit), 1e300)
	return finding(s, fmt.Sprintf("oldest live audit row is %.0f days old", age.Hours()/24), threshold,
		"retention is not archiving: `mutt retention run --dry-run` shows what is due, `journalctl -u mutt-retention` why it did not run")
}

// RetentionActor is the changed_by of the config_audit_log rows that
// `mutt retention run` writes; retention.last looks for it.
const RetentionActor = "mutt-retention"

func checkClock(ctx context.Context, o *Options) Finding {
	th := o.Thresholds
	threshold := fmt.Sprintf("|offset| warn > %s / fail > %s", th.ClockWarn, th.ClockFail)
	var parts []string
	worst := time.Duration(0)
	measure := func(name string, server func() (time.Time, error)) error {
		before := o.Now()
		at, err := server()
		if err != nil {
			return err
		}
		after := o.Now()
		// The server read its clock somewhere in [before, after]; compare
		// with the middle of the round trip.
		off := at.Sub(before.Add(after.Sub(before) / 2))
		parts = append(parts, fmt.Sprintf("%s %+.3fs", name, off.Seconds()))
		worst = max(worst, off.Abs())
		return nil
	}
	if err := measure("Redis", func() (time.Time, error) { return o.Redis.Time(ctx).Result() }); err != nil {
		return fail("Redis TIME: "+err.Error(), threshold, "check that Redis answers")
	}
	if o.Postgres != nil {
		if err := measure("PostgreSQL", func() (time.Time, error) {
			var t time.Time
			err := o.Postgres.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&t)
			return t, err
		}); err != nil {
			return fail("PostgreSQL clock_timestamp(): "+err.Error(), threshold, "check PostgreSQL")
		}
	}
	return finding(judge(float64(worst), float64(th.ClockWarn), float64(th.ClockFail)),
		"offset of "+strings.Join(parts, ", "), threshold,
		"synchronise the clocks with NTP (`timedatectl status`, chrony): breaker timing, TTLs and audit timestamps depend on them")
}
