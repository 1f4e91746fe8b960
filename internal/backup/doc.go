// Package backup holds MUTT's backup sets: encrypted, checksummed
// artifacts, the JSON manifest that describes a set, the on-disk layout
// under the backup root, the run lock, the prune planner and the deletion
// it plans; the data movers that stream PostgreSQL (pg_dump/pg_restore on
// one exported snapshot) and Redis (a logical DUMP/RESTORE export of MUTT's
// keys) in and out; Run, which takes one set (every component on its own,
// artifacts first, a quick verify, the manifest last); and the restores.
//
// Every artifact is streamed through optional zstd compression and age
// encryption straight into a "*.partial" file that is fsynced and renamed
// into place; plaintext never reaches the disk. A set's manifest is written
// last, so a set without a manifest is by definition incomplete.
//
// The storage layer (artifact, manifest, set, lock) knows nothing about what
// is backed up; only the components_* files and restore.go (the database
// swap, the live-consumer check) talk to PostgreSQL and Redis.
// The package must not import MUTT's services or configuration packages,
// nor log anything itself.
package backup
