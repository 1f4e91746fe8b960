package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/backup"
)

// signingSettingsHelp lists the manifest signing settings.
const signingSettingsHelp = `
Manifest signing:
  MUTT_BACKUP_SIGNING_KEY_FILE  Ed25519 private key (PEM, mode 0600/0400) that signs
                                every new manifest; see mutt backup keygen --signing
  MUTT_BACKUP_TRUSTED_KEYS_FILE public keys (ed25519:<base64> [comment], one per line);
                                when set, pull, verify and restore refuse sets whose
                                manifest is unsigned or not signed by one of them
`

// signingKey loads MUTT_BACKUP_SIGNING_KEY_FILE; nil when it is unset.
func (b *backupOptions) signingKey() (ed25519.PrivateKey, error) {
	path := b.settings.SigningKeyFile
	if path == "" {
		return nil, nil
	}
	k, err := backup.LoadSigningKey(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("MUTT_BACKUP_SIGNING_KEY_FILE: %w", err)}
	}
	return k, nil
}

// trustedKeys loads MUTT_BACKUP_TRUSTED_KEYS_FILE; when it is unset it
// returns nil and warns once per command that signatures are not checked.
func (b *backupOptions) trustedKeys(g *globalOptions) (*backup.TrustedKeys, error) {
	path := b.settings.TrustedKeysFile
	if path == "" {
		if !b.signatureWarned {
			b.signatureWarned = true
			fmt.Fprintln(g.stderr, "mutt: warning: manifest signatures are not checked: set MUTT_BACKUP_TRUSTED_KEYS_FILE")
		}
		return nil, nil
	}
	t, err := backup.LoadTrustedKeys(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("MUTT_BACKUP_TRUSTED_KEYS_FILE: %w", err)}
	}
	return t, nil
}

// checkSignatures refuses, before anything is touched, any of ms whose
// manifest is not signed by a trusted key; without trusted keys it warns
// and lets every set through.
func (b *backupOptions) checkSignatures(g *globalOptions, ms ...*backup.Manifest) error {
	t, err := b.trustedKeys(g)
	if err != nil || t == nil {
		return err
	}
	for _, m := range ms {
		if err := t.CheckSignature(m); err != nil {
			return fmt.Errorf("%w; nothing was changed. If the set is genuine, check MUTT_BACKUP_TRUSTED_KEYS_FILE holds the public key of the host that made it", err)
		}
	}
	return nil
}

// signatureLine describes m's signature for `backup show`.
func signatureLine(g *globalOptions, b *backupOptions, m *backup.Manifest) (string, error) {
	path := b.settings.TrustedKeysFile
	var t *backup.TrustedKeys
	if path != "" {
		var err error
		if t, err = b.trustedKeys(g); err != nil {
			return "", err
		}
	}
	st := backup.SignatureStatus(m, t)
	switch st.State {
	case backup.SigUnsigned:
		return "unsigned", nil
	case backup.SigTrusted:
		return "signed by " + st.KeyID + ", trusted", nil
	}
	return fmt.Sprintf("signed by %s, %s (%s)", st.KeyID, st.State, st.Detail), nil
}

func newBackupKeygenCommand(g *globalOptions) *cobra.Command {
	var (
		signing bool
		out     string
	)
	cmd := &cobra.Command{
		Use:   "keygen --signing --out FILE",
		Short: "Create a manifest signing key and print its public key line",
		Long: `Write a new Ed25519 private key (PEM PKCS#8, mode 0600) to FILE, never
overwriting an existing file, and print the public key line to add to the
MUTT_BACKUP_TRUSTED_KEYS_FILE of every host that pulls, verifies or restores
this host's sets. Point MUTT_BACKUP_SIGNING_KEY_FILE at FILE on the host that
runs the backups.
` + signingSettingsHelp,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if !signing {
				return usageError{errors.New("give --signing: keygen only makes manifest signing keys (age keys come from age-keygen)")}
			}
			if out == "" {
				return usageError{errors.New("--out is required: the file to write the private key to")}
			}
			pub, err := backup.GenerateSigningKey(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "wrote signing key %s (key id %s); add this line to MUTT_BACKUP_TRUSTED_KEYS_FILE:\n", out, backup.KeyID(pub))
			line := backup.PublicKeyLine(pub)
			if host, err := os.Hostname(); err == nil && host != "" {
				line += " " + host
			}
			fmt.Fprintln(g.stdout, line)
			return nil
		},
	}
	cmd.Flags().BoolVar(&signing, "signing", false, "make a manifest signing key")
	cmd.Flags().StringVar(&out, "out", "", "file to write the private key to (must not exist)")
	return cmd
}
