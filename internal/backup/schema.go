package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mutt-go/mutt/internal/store"
)

// ErrSchemaTooNew means a backup was taken from a database whose schema is
// newer than this binary knows; restoring it would hand the services tables
// they cannot use.
var ErrSchemaTooNew = errors.New("backup schema is newer than this binary")

// BinarySchemaVersion returns the newest schema version embedded in this
// binary (the goose version of its last migration).
func BinarySchemaVersion() (int64, error) {
	v, err := store.LatestVersion()
	if err != nil {
		return 0, fmt.Errorf("reading the binary's schema version: %w", err)
	}
	return v, nil
}

// SchemaPlan says what a restore must do about the schema version of the
// data it restores.
type SchemaPlan struct {
	// Backup is the schema version of the backed-up data; 0 means unknown.
	Backup int64 `json:"backup"`
	// Binary is the newest version this binary migrates to.
	Binary int64 `json:"binary"`
	// Migrate is true when the restored database must be migrated from
	// Backup to Binary before it is swapped in.
	Migrate bool `json:"migrate"`
}

// CheckSchema compares the schema version of a backup with the binary's:
// an older backup is restored and then migrated, a newer one is refused with
// an error wrapping ErrSchemaTooNew that names both versions, and an
// unknown version (0) is decided later from the restored database itself.
func CheckSchema(backupVersion, binaryVersion int64) (SchemaPlan, error) {
	p := SchemaPlan{Backup: backupVersion, Binary: binaryVersion}
	switch {
	case backupVersion == 0:
	case backupVersion > binaryVersion:
		return p, fmt.Errorf("%w: the backup has schema version %d, this mutt binary only knows up to version %d; restore with a mutt binary at least as new as the one that took the backup",
			ErrSchemaTooNew, backupVersion, binaryVersion)
	case backupVersion < binaryVersion:
		p.Migrate = true
	}
	return p, nil
}

// migrateRestored brings the freshly restored database at url to the
// binary's schema when it is older, and refuses one that is newer. It reads
// the version from the restored data, so a manifest without a schema
// version is handled too. It returns the plan it followed.
func migrateRestored(ctx context.Context, url string, binary int64) (SchemaPlan, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return SchemaPlan{}, fmt.Errorf("connecting to the restored database: %w", err)
	}
	defer pool.Close()
	got, err := store.SchemaVersion(ctx, pool)
	if err != nil {
		return SchemaPlan{}, fmt.Errorf("checking the restored database: %w", err)
	}
	plan, err := CheckSchema(got, binary)
	if err != nil {
		return plan, err
	}
	if !plan.Migrate {
		return plan, nil
	}
	if err := store.Migrate(ctx, pool, nil); err != nil {
		return plan, fmt.Errorf("migrating the restored database from schema %d to %d: %w", got, binary, err)
	}
	return plan, nil
}
