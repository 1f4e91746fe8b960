package store

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// LatestVersion returns the version of the newest migration embedded in this
// binary: the schema version a database has after Migrate. It reads the
// numeric prefix of the embedded migration file names ("00004_archive.sql"
// is version 4), as goose does.
func LatestVersion() (int64, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("reading embedded migrations: %w", err)
	}
	var latest int64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("embedded migration %s: version prefix: %w", name, err)
		}
		latest = max(latest, v)
	}
	if latest == 0 {
		return 0, fmt.Errorf("no embedded migrations found")
	}
	return latest, nil
}
