package backup

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRenderSystemdUnits(t *testing.T) {
	o := ScheduleOptions{Binary: "/usr/local/bin/mutt", Root: "/var/backups/mutt"}
	units, err := RenderSystemdUnits(o)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, u := range units {
		byName[u.Name] = u.Content
	}
	tests := []struct {
		job        string
		onCalendar string
		exec       []string
	}{
		{"mutt-backup-hourly", "*-*-* *:15:00", []string{"backup run --profile hourly"}},
		{"mutt-backup-redis", "*-*-* 00,06,12,18:00:00", []string{"backup run --profile redis"}},
		{"mutt-backup-daily", "*-*-* 02:00:00", []string{"backup run --profile daily", "backup prune --yes"}},
		{"mutt-backup-weekly", "Sun *-*-* 02:30:00", []string{"backup run --profile weekly"}},
		{"mutt-backup-sync", "*-*-* 00,06,12,18:30:00", []string{"backup sync"}},
		{"mutt-backup-deep-verify", "Sun *-*-01..07 03:00:00", []string{"backup verify --latest-each --deep"}},
	}
	if len(units) != 2*len(tests) {
		t.Errorf("%d units, want %d", len(units), 2*len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.job, func(t *testing.T) {
			svc, tmr := byName[tt.job+".service"], byName[tt.job+".timer"]
			if svc == "" || tmr == "" {
				t.Fatalf("missing %s.service or .timer", tt.job)
			}
			for _, want := range []string{"OnCalendar=" + tt.onCalendar + "\n", "Persistent=true\n", "Unit=" + tt.job + ".service\n", "WantedBy=timers.target\n"} {
				if !strings.Contains(tmr, want) {
					t.Errorf("timer lacks %q:\n%s", want, tmr)
				}
			}
			var execs []string
			for _, line := range strings.Split(svc, "\n") {
				if c, ok := strings.CutPrefix(line, "ExecStart=/usr/local/bin/mutt "); ok {
					execs = append(execs, c)
				}
			}
			if strings.Join(execs, "|") != strings.Join(tt.exec, "|") {
				t.Errorf("ExecStart lines %q, want %q", execs, tt.exec)
			}
			for _, want := range []string{"Type=oneshot\n", "User=mutt\n", "NoNewPrivileges=yes\n", "ProtectSystem=strict\n",
				"ReadWritePaths=/var/backups/mutt\n", "PrivateTmp=yes\n", "UMask=0077\n",
				"ReadWritePaths=-/var/lib/node_exporter/textfile_collector\n", "EnvironmentFile=-/etc/mutt/mutt.env\n"} {
				if !strings.Contains(svc, want) {
					t.Errorf("service lacks %q:\n%s", want, svc)
				}
			}
		})
	}

	// systemd itself accepts every calendar expression, and the deep
	// verify lands on Sundays within the first week only.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed; calendar expressions not checked by systemd")
		return
	}
	for _, j := range append(ScheduleJobs(), PITRJobs()...) {
		out, err := exec.Command(analyze, "calendar", "--iterations=12", j.OnCalendar).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze calendar %q: %v\n%s", j.OnCalendar, err, out)
			continue
		}
		if j.Name != "mutt-backup-deep-verify" {
			continue
		}
		dates := regexp.MustCompile(`(?m)^\s*(?:Next elapse|Iter\. #\d+|\(in UTC\)):\s*\w{3} (\d{4}-\d{2}-\d{2}) 03:00:00`).FindAllStringSubmatch(string(out), -1)
		if len(dates) < 12 {
			t.Fatalf("systemd-analyze listed %d elapses:\n%s", len(dates), out)
		}
		for _, d := range dates {
			day, err := time.Parse("2006-01-02", d[1])
			if err != nil {
				t.Fatal(err)
			}
			if day.Weekday() != time.Sunday || day.Day() > 7 {
				t.Errorf("deep verify elapses on %s (%s, day %d), want the first Sunday", d[1], day.Weekday(), day.Day())
			}
		}
	}
}

// TestScheduleWithPITR renders the schedule of a site relying on
// point-in-time recovery: the default jobs plus the daily base backup
// before the daily set and the five-minute archiving check, in units and
// in crontab lines alike.
func TestScheduleWithPITR(t *testing.T) {
	o := ScheduleOptions{Binary: "/usr/local/bin/mutt", Root: "/var/backups/mutt", PITR: true}
	units, err := RenderSystemdUnits(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * (len(ScheduleJobs()) + 2); len(units) != want {
		t.Fatalf("%d units, want %d", len(units), want)
	}
	byName := map[string]string{}
	for _, u := range units {
		byName[u.Name] = u.Content
	}
	for name, want := range map[string]string{
		"mutt-backup-base.service":       "ExecStart=/usr/local/bin/mutt backup run --profile base\n",
		"mutt-backup-base.timer":         "OnCalendar=*-*-* 01:30:00\n",
		"mutt-backup-wal-status.service": "ExecStart=/usr/local/bin/mutt backup status\n",
		"mutt-backup-wal-status.timer":   "OnCalendar=*-*-* *:00/5:00\n",
	} {
		if !strings.Contains(byName[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, byName[name])
		}
	}
	text, err := RenderCrontab(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"30 1 * * * ", "*/5 * * * * "} {
		if !strings.Contains(text, want) {
			t.Errorf("crontab lacks a %q line:\n%s", want, text)
		}
	}
	plain, err := RenderSystemdUnits(ScheduleOptions{Binary: "/usr/local/bin/mutt", Root: "/var/backups/mutt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 2*len(ScheduleJobs()) {
		t.Errorf("without PITR %d units, want only the default %d", len(plain), 2*len(ScheduleJobs()))
	}
}

func TestRenderCrontabAvoidsTheDayOfWeekOrTrap(t *testing.T) {
	text, err := RenderCrontab(ScheduleOptions{Binary: "/usr/local/bin/mutt", Root: "/srv/backups"})
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "=") && !strings.Contains(line, " mutt ") {
			continue
		}
		jobs = append(jobs, line)
		f := strings.Fields(line)
		if len(f) < 7 {
			t.Fatalf("crontab line %q: want 5 time fields, a user and a command", line)
		}
		// Cron runs a job when EITHER day field matches if both are
		// restricted: never restrict both.
		if f[2] != "*" && f[4] != "*" {
			t.Errorf("line %q restricts day-of-month and day-of-week: cron ORs them", line)
		}
		if f[5] != "mutt" {
			t.Errorf("line %q runs as %q, want mutt", line, f[5])
		}
	}
	if len(jobs) != len(ScheduleJobs()) {
		t.Fatalf("%d job lines, want %d:\n%s", len(jobs), len(ScheduleJobs()), text)
	}
	deep := jobs[len(jobs)-1]
	if !strings.HasPrefix(deep, `0 3 1-7 * * mutt [ "$(date +\%u)" = 7 ] && `) || !strings.HasSuffix(deep, "backup verify --latest-each --deep") {
		t.Errorf("first-Sunday line = %q, want day-of-month 1-7 and a weekday test", deep)
	}
	if !strings.Contains(text, "backup run --profile daily && /usr/local/bin/mutt backup prune --yes") {
		t.Errorf("prune is not chained after the daily backup:\n%s", text)
	}
	if !strings.Contains(text, "MUTT_BACKUP_ROOT=/srv/backups\n") {
		t.Errorf("crontab does not set the backup root:\n%s", text)
	}

	// The guard really selects Sundays: run it with a faked date.
	for _, tt := range []struct {
		weekday string
		runs    bool
	}{{"7", true}, {"1", false}} {
		guard := strings.ReplaceAll(`date() { echo `+tt.weekday+`; }; [ "$(date +\%u)" = 7 ]`, `\%`, `%`)
		err := exec.Command("sh", "-c", guard).Run()
		if (err == nil) != tt.runs {
			t.Errorf("guard with weekday %s: ran %t, want %t", tt.weekday, err == nil, tt.runs)
		}
	}
}

func TestScheduleOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    ScheduleOptions
		ok   bool
	}{
		{name: "defaults", o: ScheduleOptions{Binary: "/usr/bin/mutt", Root: "/var/backups/mutt"}, ok: true},
		{name: "relative binary", o: ScheduleOptions{Binary: "mutt", Root: "/var/backups/mutt"}},
		{name: "relative root", o: ScheduleOptions{Binary: "/usr/bin/mutt", Root: "backups"}},
		{name: "shell in root", o: ScheduleOptions{Binary: "/usr/bin/mutt", Root: "/tmp/x;rm -rf /"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %t", err, tt.ok)
			}
			if _, rerr := RenderSystemdUnits(tt.o); (rerr == nil) != tt.ok {
				t.Errorf("RenderSystemdUnits error %v, want ok %t", rerr, tt.ok)
			}
		})
	}
}
