package event

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckObject(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	tests := []struct {
		name, body string
		field      string // "" with rule "" for a *BodyError
		rule       string
	}{
		{"fine", `{"a":"x","b":[1,{"c":null}],"d":{"e":true},"f":"\ud83d\ude00\u00e9\n"}`, "", "ok"},
		{"empty object", ` {} `, "", "ok"},
		{"not an object", `[1]`, "", ruleObject},
		{"not JSON", `{"a":`, "", ""},
		{"trailing text", `{"a":1} {}`, "", ""},
		{"raw NUL byte", "{\"a\":\"\x00\"}", "", ""},
		{"too deep", deep, "", "must not be nested more than 32 levels deep"},
		{"duplicate", `{"a":1,"b":2,"a":3}`, "a", ruleDuplicate},
		{"duplicate escaped", `{"a":1,"\u0061":2}`, "a", ruleDuplicate},
		{"duplicate nested", `{"v":{"x":1,"x":1}}`, "v.x", ruleDuplicate},
		{"duplicate in array", `{"v":[{},{"x":1,"x":1}]}`, "v[1].x", ruleDuplicate},
		{"same key in two objects", `{"v":{"x":1},"w":{"x":1}}`, "", "ok"},
		{"invalid UTF-8 value", "{\"host\":\"a\xffb\"}", "host", ruleUTF8},
		{"invalid UTF-8 key", "{\"ho\xffst\":1}", "ho\ufffdst", ruleUTF8},
		{"invalid UTF-8 nested", "{\"v\":[\"\xc3\"]}", "v[0]", ruleUTF8},
		{"lone high surrogate", `{"m":"\ud800"}`, "m", ruleSurrogate},
		{"lone low surrogate", `{"m":"x\udfffy"}`, "m", ruleSurrogate},
		{"surrogate in key", `{"k\ud800":1}`, `k\ud800`, ruleSurrogate},
		{"NUL escape", `{"m":"a\u0000"}`, "m", ruleNUL},
		{"NUL in key", `{"a\u0000b":1}`, "a\x00b", ruleNUL},
		{"NUL nested", `{"v":{"w":["\u0000"]}}`, "v.w[0]", ruleNUL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckObject([]byte(tt.body), 32)
			var fe *FieldError
			var be *BodyError
			switch {
			case tt.rule == "ok":
				if err != nil {
					t.Errorf("CheckObject = %v", err)
				}
			case tt.rule == "":
				if !errors.As(err, &be) {
					t.Errorf("CheckObject = %v, want a *BodyError", err)
				}
			case !errors.As(err, &fe) || fe.Field != tt.field || fe.Rule != tt.rule:
				t.Errorf("CheckObject = %#v, want field %q rule %q", err, tt.field, tt.rule)
			}
		})
	}
}

func FuzzCheckObject(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"\u0000"}],"a":2}`))
	f.Add([]byte("{\"h\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckObject(b, 32)
		var fe *FieldError
		var be *BodyError
		if err != nil && !errors.As(err, &fe) && !errors.As(err, &be) {
			t.Fatalf("CheckObject(%q) = %T %v", b, err, err)
		}
		// What it accepts, the scanner accepts.
		if err == nil {
			s := scanner{data: b, maxDepth: 33}
			if end := s.value(0, 0); end < 0 || skipSpace(b, end) != len(b) {
				t.Fatalf("CheckObject accepted %q, which is not one JSON value", b)
			}
		}
	})
}
