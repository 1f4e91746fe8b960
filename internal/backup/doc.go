// Package backup holds MUTT's backup sets: encrypted, checksummed
// artifacts, the JSON manifest that describes a set, the on-disk layout
// under the backup root, the run lock, the prune planner and the deletion
// it plans; the data movers that stream PostgreSQL (pg_dump/pg_restore on
// one exported snapshot), Redis (a logical DUMP/RESTORE export of MUTT's
// keys), the configuration files and dynamic configuration, the Vault KV
// secrets and the logs in and out; Run, which takes one set (every
// component on its own, artifacts first, a quick verify, the manifest
// last); and the restores.
//
// Every component (postgres, pgconfig, sqlite, redis, config, logs, vault,
// prometheus, pgbase) implements ComponentSpec in its own components_*.go
// file and registers once in the Registry that NewRegistry builds: its
// name, profiles, storage mode, objectives, default retention, backup,
// quick verify, deep verify and restore. Run, KnownComponent,
// ProfileComponents, VerifyQuickSet, DeepVerify, RTOTarget and LoadSettings
// iterate or consult the registry, so a new component adds no case to a
// switch. The sqlite component is the embedded mode's database file: a
// VACUUM INTO copy taken online, restored under the data directory's lock.
//
// Settings (LoadSettings, Validate) are the MUTT_BACKUP_* environment
// variables in one typed struct with their defaults; Validate names every
// bad variable and the rule it breaks.
//
// Point-in-time recovery: PushWAL and FetchWAL are PostgreSQL's
// archive_command and restore_command over the WAL archive under
// <root>/wal (each file an artifact plus a sidecar entry written last);
// the pgbase component takes the base backups; RestorePITR restores a base
// into a new data directory, stages and checks the WAL it needs, replays
// to the target and promotes; PlanWALPrune keeps exactly the WAL a kept
// base needs; ReadArchiverStatus gives the archiving lag status checks.
//
// Every artifact is streamed through optional zstd compression and age
// encryption straight into a "*.partial" file that is fsynced and renamed
// into place (writeFileAtomic and commitPartial); plaintext never reaches
// the disk. A set's manifest is written last, so a set without a manifest
// is by definition incomplete.
//
// Remote copies go through a RemoteStore (a directory or S3): Sync uploads
// finished sets, artifacts first and the manifest last, so a remote set is
// complete once its manifest is there; Pull brings a set back into a local
// root, checking every download against the manifest before the local
// manifest is written; RenderLifecycle turns the remote retention into the
// S3 bucket's lifecycle rules, which enforce it. DeepVerify decrypts and
// test-restores a set into throw-away targets (a scratch database, a private
// redis-server) and records the result in the manifest; LatestEach picks the
// newest set of every component for it. Drill runs the quarterly DR drill
// the same way and measures RTO and RPO. CheckStatus evaluates the daily to
// quarterly integrity checklist, RenderSystemdUnits and RenderCrontab render
// the systemd timers or cron lines of the backup schedule, and
// WriteMetricsFile writes the node_exporter textfile that the alert rules
// read.
//
// The storage layer (artifact, manifest, set, lock) knows nothing about what
// is backed up; only the components_* files, restore*.go, deep.go and
// drill.go talk to PostgreSQL and Redis, and only remote_s3.go to S3.
// The package must not import MUTT's services or configuration packages,
// nor log anything itself.
package backup
