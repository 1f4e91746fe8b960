package retention

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/mutt-go/mutt/internal/backup"
)

// Backup is the newest database backup that verified.
type Backup struct {
	SetID string // "" when there is none
	At    time.Time
}

// NewestVerifiedBackup returns the newest backup set under root whose
// postgres component succeeded and whose latest verification passed.
// Retention drops nothing unless this set is recent: a partition dropped
// after the last good backup exists nowhere else but in its archive file.
func NewestVerifiedBackup(root string) (Backup, error) {
	return NewestVerifiedBackupOf(root, backup.ComponentPostgres)
}

// NewestVerifiedBackupOf returns the newest backup set under root whose
// component (backup.ComponentPostgres, or backup.ComponentSQLite for the
// embedded database) succeeded and whose latest verification passed.
func NewestVerifiedBackupOf(root, component string) (Backup, error) {
	ms, err := backup.ListManifests(root)
	if err != nil {
		return Backup{}, fmt.Errorf("reading the backup catalogue under %s: %w", root, err)
	}
	backup.SortNewestFirst(ms)
	for _, m := range ms {
		c := m.Component(component)
		if c == nil || c.Status != backup.StatusOK || c.Verify == nil || c.Verify.Status != backup.StatusOK {
			continue
		}
		return Backup{SetID: m.SetID, At: m.Time()}, nil
	}
	return Backup{}, nil
}

// checkGate reads the newest verified backup of component into res and
// sets res.Refused when it is missing or older than the gate; the error
// then wraps ErrBackupGate and names the commands that make one.
func checkGate(res *Result, root, component string, gate time.Duration, logger *slog.Logger) error {
	b, err := NewestVerifiedBackupOf(root, component)
	if err != nil {
		return err
	}
	res.Backup = b
	switch age := res.At.Sub(b.At); {
	case b.SetID == "":
		res.Refused = "no verified database backup under " + root
	case age > gate:
		res.Refused = fmt.Sprintf("the newest verified database backup %s is %s old, past the %s gate", b.SetID, age.Round(time.Minute), gate)
	}
	if res.Refused == "" {
		return nil
	}
	logger.Warn("retention refuses to drop or delete", "reason", res.Refused)
	return fmt.Errorf("%w: %s; run `mutt backup run --components %s` and `mutt backup verify latest`", ErrBackupGate, res.Refused, component)
}
