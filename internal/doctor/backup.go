package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/retention"
)

func checkBackup(_ context.Context, o *Options) Finding {
	if o.BackupRoot == "" {
		return skipped("no backup root configured")
	}
	th := o.Thresholds
	threshold := fmt.Sprintf("newest verified postgres set warn > %s / fail > %s old", th.BackupWarn, th.BackupFail)
	b, err := retention.NewestVerifiedBackup(o.BackupRoot)
	if err != nil {
		return fail(err.Error(), threshold, "check MUTT_BACKUP_ROOT and its permissions")
	}
	if b.SetID == "" {
		return fail("no verified postgres backup under "+o.BackupRoot, threshold,
			"run `mutt backup run --components postgres` and `mutt backup verify latest`; retention refuses to drop anything until one exists")
	}
	age := o.Now().Sub(b.At)
	return finding(judge(float64(age), float64(th.BackupWarn), float64(th.BackupFail)),
		fmt.Sprintf("set %s, %s old", b.SetID, age.Round(time.Minute)), threshold,
		"the daily backup is late or failing: `systemctl status mutt-backup-daily`, `mutt backup status`; retention refuses to drop partitions past 26 h")
}

func checkVault(ctx context.Context, o *Options) Finding {
	if o.VaultTTL == nil {
		return skipped("Vault not configured")
	}
	threshold := fmt.Sprintf("token lifetime warn < %s", o.Thresholds.VaultTTLWarn)
	ttl, err := o.VaultTTL(ctx)
	if err != nil {
		return fail("looking up the Vault token: "+err.Error(), threshold,
			"the AppRole login or the token is refused: re-issue the secret id (VAULT_SECRET_ID_FILE) and check the policy")
	}
	s := health.StatusOK
	if ttl < o.Thresholds.VaultTTLWarn {
		s = health.StatusWarn
	}
	return finding(s, fmt.Sprintf("token valid for %s", ttl.Round(time.Second)), threshold,
		"the services renew their tokens; a short lifetime here means token_max_ttl is near: raise it or check that renewal works")
}
