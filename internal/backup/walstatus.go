package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultWALLagMax is the archiving lag past which `backup status` fails
// and MUTTBackupWALArchiveLag fires: well inside the 60 s RPO target plus
// the time an operator needs to react, and far above archive_timeout.
const DefaultWALLagMax = 5 * time.Minute

// walStatusFile is where the last archiver reading is kept, for metrics.
const walStatusFile = "archiver.json"

// ArchiverStatus is PostgreSQL's view of WAL archiving (pg_stat_archiver)
// with the lag derived from it.
type ArchiverStatus struct {
	ArchiveMode     string    `json:"archive_mode"`
	CurrentWAL      string    `json:"current_wal"`
	LastArchivedWAL string    `json:"last_archived_wal,omitempty"`
	LastArchivedAt  time.Time `json:"last_archived_at"`
	LastFailedWAL   string    `json:"last_failed_wal,omitempty"`
	LastFailedAt    time.Time `json:"last_failed_at"`
	FailedCount     int64     `json:"failed_count"`
	// Lag is zero when every segment before the one being written is
	// archived; otherwise the time since the last successful archiving
	// (or since the server started, when none ever was).
	Lag time.Duration `json:"lag_ns"`
	At  time.Time     `json:"at"`
}

// ReadArchiverStatus reads pg_stat_archiver from the server of databaseURL.
func ReadArchiverStatus(ctx context.Context, databaseURL string) (ArchiverStatus, error) {
	var s ArchiverStatus
	db, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return s, fmt.Errorf("reading pg_stat_archiver: %w", pgScrub(err, pgPassword(databaseURL)))
	}
	defer db.Close(context.WithoutCancel(ctx))
	var lastWAL, failedWAL *string
	var lastAt, failedAt *time.Time
	var started time.Time
	var seg int64
	err = db.QueryRow(ctx, `SELECT current_setting('archive_mode'),
		CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_current_wal_lsn()) END,
		last_archived_wal, last_archived_time, last_failed_wal, last_failed_time, failed_count,
		now(), pg_postmaster_start_time(),
		(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')
		FROM pg_stat_archiver`).Scan(&s.ArchiveMode, &s.CurrentWAL, &lastWAL, &lastAt, &failedWAL, &failedAt, &s.FailedCount, &s.At, &started, &seg)
	if err != nil {
		return s, fmt.Errorf("reading pg_stat_archiver: %w", err)
	}
	if lastWAL != nil {
		s.LastArchivedWAL = *lastWAL
	}
	if lastAt != nil {
		s.LastArchivedAt = *lastAt
	}
	if failedWAL != nil {
		s.LastFailedWAL = *failedWAL
	}
	if failedAt != nil {
		s.LastFailedAt = *failedAt
	}
	s.Lag = archiveLag(s, started, uint64(seg))
	return s, nil
}

// archiveLag derives the lag: nothing is late while the newest archived
// segment is the one before the segment being written.
func archiveLag(s ArchiverStatus, started time.Time, segBytes uint64) time.Duration {
	if s.CurrentWAL == "" || segBytes == 0 {
		return 0
	}
	_, cur, ok := segmentNumber(s.CurrentWAL, segBytes)
	if !ok {
		return 0
	}
	if len(s.LastArchivedWAL) >= 24 {
		if tli, n, ok := segmentNumber(s.LastArchivedWAL, segBytes); ok && tli == parseTimeline(s.CurrentWAL) && n+1 >= cur {
			return 0
		}
	}
	since := s.LastArchivedAt
	if since.IsZero() || since.Before(started) {
		since = started
	}
	if cur == 0 {
		return 0
	}
	return max(0, s.At.Sub(since))
}

// parseTimeline returns the timeline of a segment name.
func parseTimeline(name string) uint32 {
	tli, _, _ := segmentNumber(name, 16<<20)
	return tli
}

// pgPassword returns the password in a connection string, for scrubbing.
func pgPassword(conn string) string {
	_, pw, _ := pgChildConn(conn, "")
	return pw
}

// WriteArchiverStatus keeps s under the WAL archive for the metrics file.
func WriteArchiverStatus(root string, s ArchiverStatus) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(root, WALDir, walStatusFile), bytes.NewReader(data), nil)
}

// readArchiverStatus returns the last kept archiver reading, if any.
func readArchiverStatus(root string) (ArchiverStatus, bool) {
	var s ArchiverStatus
	data, err := os.ReadFile(filepath.Join(root, WALDir, walStatusFile))
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return s, false
	}
	return s, json.Unmarshal(data, &s) == nil
}

// checkWAL is the wal-archiving item of the status checklist.
func checkWAL(add addFunc, ms []*Manifest, s *ArchiverStatus, readErr error, lagMax time.Duration) {
	usesPITR := false
	for _, m := range ms {
		if c := m.Component(ComponentPgBase); c != nil && c.Status == StatusOK {
			usesPITR = true
			break
		}
	}
	switch {
	case readErr != nil && usesPITR:
		add("wal-archiving", CheckFail, "%v", readErr)
	case readErr != nil || s == nil:
		add("wal-archiving", CheckSkip, "no pgbase backups and the server's archiving is not known")
	case s.ArchiveMode == "off" && usesPITR:
		add("wal-archiving", CheckFail, "archive_mode is off although pgbase backups exist: a point-in-time restore ends at the newest base; set archive_mode = on and archive_command = 'mutt backup wal-push %%p'")
	case s.ArchiveMode == "off":
		add("wal-archiving", CheckSkip, "archive_mode is off: no point-in-time recovery")
	case s.Lag > lagMax:
		detail := fmt.Sprintf("archiving is %s behind (more than %s): last archived %q at %s", roundAge(s.Lag), lagMax, s.LastArchivedWAL, s.LastArchivedAt.UTC().Format(time.RFC3339))
		if s.LastFailedAt.After(s.LastArchivedAt) {
			detail += fmt.Sprintf("; %d failures, the last for %s at %s: see the PostgreSQL log for archive_command's error", s.FailedCount, s.LastFailedWAL, s.LastFailedAt.UTC().Format(time.RFC3339))
		}
		add("wal-archiving", CheckFail, "%s", detail)
	default:
		add("wal-archiving", CheckPass, "archiving lag %s (last archived %s)", roundAge(s.Lag), s.LastArchivedWAL)
	}
}
