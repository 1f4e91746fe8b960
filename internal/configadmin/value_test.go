package configadmin

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestFormatValue(t *testing.T) {
	tests := []struct {
		name, raw, want string
		wantErr         bool
	}{
		{"string verbatim", `"dlq"`, "dlq", false},
		{"string with spaces", `" a b "`, " a b ", false},
		{"empty string", `""`, "", false},
		{"numeric string stays", `"1.50"`, "1.50", false},
		{"integer", `5`, "5", false},
		{"negative integer", `-12`, "-12", false},
		{"float", `1.5`, "1.5", false},
		{"trailing zero", `1.50`, "1.5", false},
		{"integral float", `2.0`, "2", false},
		{"exponent", `1e3`, "1000", false},
		{"small", `0.000001`, "1e-06", false},
		{"large int", `9007199254740993`, "9007199254740993", false},
		{"true", `true`, "true", false},
		{"false", ` false `, "false", false},
		{"null", `null`, "", true},
		{"object", `{"a":1}`, "", true},
		{"array", `[1]`, "", true},
		{"empty", ``, "", true},
		{"garbage", `tru`, "", true},
		{"two values", `1 2`, "", true},
		{"out of range", `1e999`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatValue(json.RawMessage(tt.raw))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidValue) {
					t.Errorf("FormatValue(%s) = %q, %v; want ErrInvalidValue", tt.raw, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("FormatValue(%s) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}
