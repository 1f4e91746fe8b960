package sqlstore

import (
	"context"
	"fmt"
)

// checkConfigAuditSQL reads no row of config_audit_log but fails when the
// table is missing or unreadable.
const checkConfigAuditSQL = `SELECT 1 FROM config_audit_log WHERE 0`

// CheckConfigAudit returns an error when config_audit_log cannot be read,
// as store.CheckConfigAudit does, so that a caller can refuse before it
// makes a change it could not record.
func (d *DB) CheckConfigAudit(ctx context.Context) error {
	rows, err := d.r.QueryContext(ctx, checkConfigAuditSQL)
	if err == nil {
		_ = rows.Close()
		err = rows.Err()
	}
	if err != nil {
		return fmt.Errorf("checking config_audit_log: %w", err)
	}
	return nil
}
