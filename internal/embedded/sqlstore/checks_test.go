package sqlstore

import "testing"

func TestCheckConfigAuditMissingTable(t *testing.T) {
	d := openTemp(t)
	if err := d.CheckConfigAudit(t.Context()); err != nil {
		t.Fatalf("CheckConfigAudit on a migrated database: %v", err)
	}
	if _, err := d.w.ExecContext(t.Context(), "DROP TABLE config_audit_log"); err != nil {
		t.Fatalf("dropping config_audit_log: %v", err)
	}
	if err := d.CheckConfigAudit(t.Context()); err == nil {
		t.Fatal("CheckConfigAudit without config_audit_log: no error")
	}
}
