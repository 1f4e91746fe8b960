package backup

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSchema(t *testing.T) {
	tests := []struct {
		name           string
		backup, binary int64
		wantMigrate    bool
		wantErr        bool
	}{
		{"same", 4, 4, false, false},
		{"older is migrated", 3, 4, true, false},
		{"newer is refused", 5, 4, false, true},
		{"unknown is decided later", 0, 4, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CheckSchema(tt.backup, tt.binary)
			if (err != nil) != tt.wantErr || p.Migrate != tt.wantMigrate {
				t.Fatalf("CheckSchema(%d, %d) = %+v, %v", tt.backup, tt.binary, p, err)
			}
			if err != nil && (!errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "version 5") || !strings.Contains(err.Error(), "version 4")) {
				t.Errorf("error %q does not name both versions", err)
			}
		})
	}
}

func TestBinarySchemaVersion(t *testing.T) {
	v, err := BinarySchemaVersion()
	if err != nil || v < 4 {
		t.Fatalf("BinarySchemaVersion() = %d, %v; want at least 4 (00004_archive.sql)", v, err)
	}
}
