package retention

import (
	"fmt"
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
	ms, err := backup.ListManifests(root)
	if err != nil {
		return Backup{}, fmt.Errorf("reading the backup catalogue under %s: %w", root, err)
	}
	backup.SortNewestFirst(ms)
	for _, m := range ms {
		c := m.Component(backup.ComponentPostgres)
		if c == nil || c.Status != backup.StatusOK || c.Verify == nil || c.Verify.Status != backup.StatusOK {
			continue
		}
		return Backup{SetID: m.SetID, At: m.Time()}, nil
	}
	return Backup{}, nil
}
