package snmptrap

import "testing"

func TestLoadNames(t *testing.T) {
	n, err := LoadNames([]string{"testdata/mibs"})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"1.3.6.1.4.1.99999.0.1":   "muttDiskLow",
		"1.3.6.1.4.1.99999.1.1.0": "muttDiskFree.0",
		"1.3.6.1.4.1.99999.0.7":   "muttOldTrap",
		"1.3.6.1.6.3.1.1.5.3":     "linkDown",
		"1.3.6.1.2.1.2.2.1.8.12":  "ifOperStatus.12",
		"1.2.3.4":                 "1.2.3.4",
	}
	for oid, want := range tests {
		if got := n.Name(oid); got != want {
			t.Errorf("Name(%s) = %s, want %s", oid, got, want)
		}
	}
	var none *Names
	if got := none.Name("1.3.6.1.6.3.1.1.5.4"); got != "linkUp" {
		t.Errorf("built-in name = %s", got)
	}
	if _, err := LoadNames([]string{"testdata/no-such-dir"}); err == nil {
		t.Error("a missing MIB directory was accepted")
	}
}

// FuzzPeekHeader checks the BER header reader on any input.
func FuzzPeekHeader(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = peekHeader(b)
	})
}
