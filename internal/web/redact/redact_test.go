package redact

import (
	"net/url"
	"strings"
	"testing"
)

func TestQuery(t *testing.T) {
	const k = "s3cr3t-Key-Value"
	esc := url.QueryEscape
	tests := []struct{ name, raw, want string }{
		{"empty", "", ""},
		{"nothing secret", "page=2&limit=10", "limit=10&page=2"},
		{"api_key", "api_key=" + k, "api_key=REDACTED"},
		{"upper case", "API_KEY=" + k, "API_KEY=REDACTED"},
		{"dashes", "X-Api-Key=" + k, "X-Api-Key=REDACTED"},
		{"apikey", "apikey=" + k, "apikey=REDACTED"},
		{"token", "access_token=" + k, "access_token=REDACTED"},
		{"password", "PassWord=" + k + "&a=1", "PassWord=REDACTED&a=1"},
		{"every value", "key=" + k + "&key=" + k, "key=REDACTED&key=REDACTED"},
		{"encoded next", "next=/x%3Fapi_key%3D" + k, "next=%2Fx%3Fapi_key%3DREDACTED"},
		{"next keeps the rest", "next=" + esc("/rules?page=2&token="+k), "next=%2Frules%3Fpage%3D2%26token%3DREDACTED"},
		{"next in next", "next=" + esc("/x?next="+esc("/y?api_key="+k)), "next=%2Fx%3Fnext%3D%252Fy%253Fapi_key%253DREDACTED"},
		{"encoded twice", "next=" + esc(esc("/x?api_key="+k)), "next=%252Fx%253Fapi_key%253DREDACTED"},
		{"pairs without a path", "q=" + esc("a=1&token="+k), "q=a%3D1%26token%3DREDACTED"},
		{"too deep", "next=" + esc(esc(esc(esc(esc(esc("/x?api_key="+k)))))), "next=REDACTED"},
		{"encoded query before '?'", "next=" + esc("/x%3Ftoken%3D"+k+"?a=1"), "next=REDACTED"},
		{"bad escape inside", "next=" + esc("/x?token="+k+"%zz"), "next=REDACTED"},
		{"unparsable", "api_key=" + k + "%zz", Unparsable},
		{"plain path", "next=/rules/7", "next=%2Frules%2F7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Query(tt.raw)
			if got != tt.want {
				t.Errorf("Query(%q) = %q, want %q", tt.raw, got, tt.want)
			}
			for _, spelled := range []string{k, esc(k), strings.ToLower(k)} {
				if strings.Contains(got, spelled) {
					t.Errorf("Query(%q) = %q holds the secret", tt.raw, got)
				}
			}
		})
	}
	if got := URI("/login?next=/x%3Fapi_key%3D" + k); got != "/login?next=%2Fx%3Fapi_key%3DREDACTED" {
		t.Errorf("URI = %q", got)
	}
	if got := URI("/rules"); got != "/rules" {
		t.Errorf("URI without a query = %q", got)
	}
}

func FuzzQuery(f *testing.F) {
	f.Add("next=/x%3Fapi_key%3Dsecretvalue")
	f.Add("a=1&b=%2F%3Ftoken%3Dsecretvalue")
	f.Fuzz(func(t *testing.T, raw string) {
		got := Query(raw)
		q, err := url.ParseQuery(got)
		if got == Unparsable || got == "" {
			return
		}
		if err != nil {
			t.Fatalf("Query(%q) = %q does not parse: %v", raw, got, err)
		}
		for name, vs := range q {
			for _, v := range vs {
				if SecretName(name) && v != Marker {
					t.Fatalf("Query(%q) = %q keeps %s", raw, got, name)
				}
			}
		}
	})
}
