package event

import (
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name   string
		stored string
		opts   *Options
		want   Event // JSON is always the stored text itself
	}{
		{
			name:   "normalised event",
			stored: ev(`"syslog_severity":4`, `"_event_id":"e1"`, `"_correlation_id":"c1"`),
			want:   Event{ID: "e1", CorrelationID: "c1", Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 4},
		},
		{
			name:   "older producer: text severity, retry count, Python separators and escapes",
			stored: `{"hostname": "r\u00e9", "message": "a \"b\"", "timestamp": "2025-01-15T14:30:22Z", "syslog_severity": "Warning", "_correlation_id": "abc", "_retry_count": 2}`,
			want:   Event{CorrelationID: "abc", Hostname: "ré", Message: `a "b"`, Timestamp: t20250115, Severity: 4},
		},
		{
			name:   "rsyslog severity text only",
			stored: ev(`"severity":"crit"`, `"facility":"local5"`),
			want:   Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 2},
		},
		{
			name:   "identifiers of other types count as absent",
			stored: ev(`"_event_id":12`, `"_correlation_id":null`),
			want:   Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:   "identifier with a lone surrogate counts as absent",
			stored: ev(`"_event_id":"\ud800"`, `"_correlation_id":"c\u00e9"`),
			want:   Event{CorrelationID: "cé", Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:   "trap",
			stored: ev(`"trap_oid":".1.3.6.1.6.3.1.1.5.3"`, `"source":"snmp"`),
			want:   Event{Hostname: "h", Message: "m", TrapOID: ".1.3.6.1.6.3.1.1.5.3", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:   "zone-less timestamp",
			stored: ev2(`"timestamp":"2025-01-15 14:30:22"`),
			want:   Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:   "nothing required",
			stored: `{"_event_id":"e"}`,
			opts:   &Options{RequiredFields: []string{}},
			want:   Event{ID: "e", Severity: NoSeverity},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := []byte(tt.stored)
			got, err := Decode(stored, tt.opts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if &got.JSON[0] != &stored[0] || len(got.JSON) != len(stored) {
				t.Errorf("Event.JSON is not the stored slice")
			}
			if string(stored) != tt.stored {
				t.Errorf("Decode changed its input")
			}
			assertFields(t, got, tt.want)
			if got.ID != tt.want.ID || got.CorrelationID != tt.want.CorrelationID {
				t.Errorf("IDs = %q, %q, want %q, %q", got.ID, got.CorrelationID, tt.want.ID, tt.want.CorrelationID)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name   string
		stored string
		field  string
		rule   string // "" means a *BodyError
	}{
		{name: "invalid JSON", stored: `{"hostname":`},
		{name: "NaN from an older producer", stored: ev(`"x":NaN`)},
		{name: "not an object", stored: `[]`, rule: ruleObject},
		{name: "duplicate correlation id", stored: ev(`"_correlation_id":"a"`, `"_correlation_id":"b"`), field: "_correlation_id", rule: ruleDuplicate},
		{name: "empty hostname", stored: obj(`"hostname":""`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleNotEmpty},
		{name: "unknown severity name", stored: ev(`"syslog_severity":"Major"`), field: "syslog_severity", rule: ruleSeverity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.stored), nil)
			if tt.rule == "" {
				assertBodyError(t, err, "invalid JSON")
				return
			}
			assertFieldError(t, err, tt.field, tt.rule)
		})
	}
}

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"emerg", 0, true}, {"Emergency", 0, true}, {"PANIC", 0, true}, {"0", 0, true},
		{"alert", 1, true}, {"Alert", 1, true}, {"1", 1, true},
		{"crit", 2, true}, {"Critical", 2, true}, {"2", 2, true},
		{"err", 3, true}, {"Error", 3, true}, {"3", 3, true},
		{"warn", 4, true}, {"Warning", 4, true}, {"4", 4, true},
		{"notice", 5, true}, {"Notice", 5, true}, {"5", 5, true},
		{"info", 6, true}, {"Informational", 6, true}, {"6", 6, true},
		{"debug", 7, true}, {"DEBUG", 7, true}, {"7", 7, true},
		{"  warning\t\r\n", 4, true},
		{"", 0, false}, {"   ", 0, false}, {"8", 0, false}, {"-1", 0, false}, {"07", 0, false}, {"3.0", 0, false},
		{"Minor", 0, false}, {"Major", 0, false}, {"warnings", 0, false}, {"informationalx", 0, false},
		{"ınfo", 0, false}, {"w arning", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseSeverity(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseSeverity(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDecodeTimestampIsUTC(t *testing.T) {
	got, err := Decode([]byte(ev2(`"timestamp":"2025-06-01T02:00:00+02:00"`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC); got.Timestamp != want {
		t.Errorf("Timestamp = %#v, want %#v", got.Timestamp, want)
	}
}
