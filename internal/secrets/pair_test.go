package secrets

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func reveal(ss []Secret) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Reveal()
	}
	return out
}

func TestPairCandidates(t *testing.T) {
	tests := []struct {
		name     string
		current  string
		next     string
		accepted string // recorded with Accepted before asking; "" for none
		want     []string
	}{
		{"current first", "a", "b", "", []string{"a", "b"}},
		{"only next", "", "b", "", []string{"b"}},
		{"only current", "a", "", "", []string{"a"}},
		{"none", "", "", "", []string{}},
		{"next remembered", "a", "b", "b", []string{"b", "a"}},
		{"same value once", "a", "a", "", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPair(New(tt.current), New(tt.next))
			if tt.accepted != "" {
				p.Accepted(New(tt.accepted))
			}
			got := reveal(p.Candidates())
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Candidates = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPairAcceptedReportsSwitch(t *testing.T) {
	p := NewPair(New("a"), New("b"))
	if p.Accepted(New("a")) {
		t.Error("accepting CURRENT first is not a switch")
	}
	if !p.Accepted(New("b")) {
		t.Error("accepting NEXT after CURRENT is a switch")
	}
	if p.Accepted(New("b")) {
		t.Error("accepting NEXT again is not a switch")
	}
	if !p.IsNext(New("b")) || p.IsNext(New("a")) {
		t.Error("IsNext does not tell NEXT from CURRENT")
	}
}

func TestPairSetKeepsPreferenceAcrossPromotion(t *testing.T) {
	p := NewPair(New("a"), New("b"))
	p.Accepted(New("b"))
	// Promotion: CURRENT := old NEXT, fresh NEXT.
	p.Set(New("b"), New("c"))
	if got := reveal(p.Candidates()); strings.Join(got, ",") != "b,c" {
		t.Errorf("after promotion Candidates = %v, want [b c]", got)
	}
	// Rollback to values that no longer include the accepted one.
	p.Set(New("x"), New("y"))
	if got := reveal(p.Candidates()); strings.Join(got, ",") != "x,y" {
		t.Errorf("after replacement Candidates = %v, want [x y]", got)
	}
	if p.Current().Reveal() != "x" || p.Next().Reveal() != "y" || !p.IsSet() {
		t.Error("Set did not replace both values")
	}
}

func TestPairRefreshRequestsCoalesce(t *testing.T) {
	p := NewPair(New("a"), Secret{})
	p.RequestRefresh()
	p.RequestRefresh() // must not block
	select {
	case <-p.RefreshRequests():
	default:
		t.Fatal("no refresh request delivered")
	}
	select {
	case <-p.RefreshRequests():
		t.Fatal("two requests were not coalesced")
	default:
	}
}

func TestPairNeverPrints(t *testing.T) {
	p := NewPair(New("hunter2-current"), New("hunter2-next"))
	b, err := json.Marshal(struct{ P *Pair }{p})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", p, p, p, p), string(b), p.LogValue().String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("output reveals a value: %s", out)
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("output does not say it is redacted: %s", out)
		}
	}
}
