package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/backup"
)

// exitWALFatal is wal-fetch's exit code for a damaged archive (a corrupt
// segment, a hole): above 125, so PostgreSQL aborts the recovery instead
// of taking the failure for the end of the archive and promoting early.
const exitWALFatal = 126

// walKeyFlags are the key file paths wal-push and wal-fetch accept as
// flags: archive_command and restore_command run in PostgreSQL's
// environment, where MUTT's variables are not set. Paths, never keys.
type walKeyFlags struct {
	recipients, identity, passphrase string
}

func (f *walKeyFlags) add(cmd *cobra.Command, s backup.Settings) {
	cmd.Flags().StringVar(&f.recipients, "recipients-file", s.RecipientsFile, "age public keys file (env MUTT_BACKUP_RECIPIENTS_FILE)")
	cmd.Flags().StringVar(&f.identity, "identity-file", s.IdentityFile, "age identity file, to decrypt (env MUTT_BACKUP_IDENTITY_FILE)")
	cmd.Flags().StringVar(&f.passphrase, "passphrase-file", s.PassphraseFile, "age passphrase file (env MUTT_BACKUP_PASSPHRASE_FILE)")
}

// load reads the keys; decrypt says whether the identity is needed.
// Archiving only encrypts, so wal-push never reads the identity: an
// archive_command running as the database's OS user must not need (or
// fail on) the private key, which that user should not be able to read.
func (f *walKeyFlags) load(decrypt bool) (*backup.Keys, error) {
	identity := f.identity
	if !decrypt {
		identity = ""
	}
	k, err := backup.LoadKeys(f.recipients, f.passphrase, identity)
	if err != nil {
		return nil, usageError{err}
	}
	return k, nil
}

func newBackupWALPushCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var keys walKeyFlags
	cmd := &cobra.Command{
		Use:   "wal-push <path>",
		Short: "Archive one WAL file (PostgreSQL's archive_command)",
		Long: `Archive the WAL file at <path> under <root>/wal/: compressed, encrypted to the
age recipients, checksummed, written to a temporary name and renamed, and
recorded only then, so PostgreSQL never hears "archived" for a file that is
not whole. Pushing a file already archived with the same content succeeds
and writes nothing; a different file under an archived name is refused
(exit 1) and the archived one kept. Use it as

  archive_command = 'mutt backup wal-push --root /var/backups/mutt --recipients-file /etc/mutt/backup.pub %p'

The archived WAL goes to the remotes with the sets (mutt backup sync).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := keys.load(false)
			if err != nil {
				return err
			}
			res, err := backup.PushWAL(b.root, args[0], k, time.Now())
			if err != nil {
				return err
			}
			if res.Already {
				fmt.Fprintf(g.stderr, "mutt: %s is archived already with the same content\n", res.Name)
			}
			return nil
		},
	}
	keys.add(cmd, b.settings)
	return cmd
}

func newBackupWALFetchCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var keys walKeyFlags
	cmd := &cobra.Command{
		Use:   "wal-fetch <name> <path>",
		Short: "Fetch one archived WAL file (PostgreSQL's restore_command)",
		Long: `Write the archived WAL file <name> to <path>, checked against its recorded
size and SHA-256 before and after decryption. Exit 1 when it is not in the
archive (the normal end of a replay); exit 126 when it is damaged, or
missing while later segments are archived, so that PostgreSQL stops the
recovery with the segment named instead of ending it early. Use it as

  restore_command = 'mutt backup wal-fetch --root /var/backups/mutt --identity-file /etc/mutt/backup.key %f %p'

mutt restore postgres --target-datadir stages the WAL itself and needs no
restore_command.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := keys.load(true)
			if err != nil {
				return err
			}
			err = backup.FetchWAL(b.root, args[0], args[1], k)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, backup.ErrWALMissing):
				if hole := backup.WALHole(b.root, args[0]); hole != nil {
					return exitCodeError{code: exitWALFatal, err: hole}
				}
				return err
			case errors.Is(err, backup.ErrCorrupt):
				return exitCodeError{code: exitWALFatal, err: err}
			}
			return err
		},
	}
	keys.add(cmd, b.settings)
	return cmd
}
