package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/spf13/cobra"
)

// backupInitOptions are the flags of `mutt backup init`.
type backupInitOptions struct {
	dir string
}

func newBackupInitCommand(g *globalOptions) *cobra.Command {
	o := &backupInitOptions{}
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create a local age identity and backup root for a first backup",
		Long: `Prepare DIR for backups on this machine: DIR/backups as the backup root
(mode 0700), DIR/identity as a new age X25519 identity (mode 0600) and
DIR/recipients as its public key. An identity already there is kept, so
running init again changes nothing. It prints the settings to export:

  eval "$(mutt backup init --dir ~/.mutt)"
  mutt backup run && mutt backup verify --deep

The identity decrypts every set made with it: keep a copy of it away from
the backups. For production, give the backup host only the recipients file
and keep the identity offline.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if o.dir == "" {
				return usageError{errors.New("--dir is required: the directory to keep the identity and backups in")}
			}
			return runBackupInit(o, g.stdout, g.stderr)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "directory for the identity, recipients and backup root")
	return cmd
}

// runBackupInit creates what backupInitOptions names and prints the
// environment that uses it.
func runBackupInit(o *backupInitOptions, stdout, stderr io.Writer) error {
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return fmt.Errorf("backup init: %w", err)
	}
	root := filepath.Join(dir, "backups")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("backup init: creating the backup root: %w", err)
	}
	identityPath := filepath.Join(dir, "identity")
	recipientsPath := filepath.Join(dir, "recipients")
	id, created, err := loadOrCreateIdentity(identityPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(recipientsPath, []byte(id.Recipient().String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("backup init: writing %s: %w", recipientsPath, err)
	}
	if created {
		fmt.Fprintf(stderr, "mutt: created the age identity %s; keep a copy of it away from the backups\n", identityPath)
	} else {
		fmt.Fprintf(stderr, "mutt: kept the age identity %s\n", identityPath)
	}
	for _, kv := range [][2]string{
		{"MUTT_BACKUP_ROOT", root}, {"MUTT_BACKUP_IDENTITY_FILE", identityPath},
		{"MUTT_BACKUP_RECIPIENTS_FILE", recipientsPath}, {"MUTT_BACKUP_PASSPHRASE_FILE", ""},
	} {
		fmt.Fprintf(stdout, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return nil
}

// loadOrCreateIdentity reads the age identity at path, or creates one
// there (never overwriting a file) when there is none.
func loadOrCreateIdentity(path string) (*age.X25519Identity, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		ids, perr := age.ParseIdentities(strings.NewReader(string(b)))
		if perr != nil || len(ids) != 1 {
			return nil, false, fmt.Errorf("backup init: %s exists but is not one age identity (%v); move it away or pick another --dir", path, perr)
		}
		x, ok := ids[0].(*age.X25519Identity)
		if !ok {
			return nil, false, fmt.Errorf("backup init: %s is not an X25519 age identity", path)
		}
		return x, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("backup init: reading %s: %w", path, err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, false, fmt.Errorf("backup init: generating an identity: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("backup init: %w", err)
	}
	if _, err := fmt.Fprintf(f, "# MUTT backup identity; its public key: %s\n%s\n", id.Recipient(), id); err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("backup init: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("backup init: writing %s: %w", path, err)
	}
	return id, true, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
