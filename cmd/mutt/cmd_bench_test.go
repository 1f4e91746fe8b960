package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/bench"
)

func TestAlerterOptionsFromProfile(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		profile string
		want    bench.AlerterOptions
		wantErr string
	}{
		{name: "flags only", args: []string{"--events", "1000", "--handled", "100"},
			want: bench.AlerterOptions{Events: 1000, Rules: 50, Handled: 100}},
		{name: "the all-handled profile", profile: "all-handled",
			want: bench.AlerterOptions{Events: 2_000_000, Handled: 100, Window: 250_000, Ceiling: true}},
		{name: "a flag given overrides the profile", profile: "all-handled", args: []string{"--events", "500000", "--workers", "4"},
			want: bench.AlerterOptions{Events: 500_000, Workers: 4, Handled: 100, Window: 250_000, Ceiling: true}},
		{name: "unknown profile", profile: "fast", wantErr: `--profile "fast" is not a profile`},
		{name: "unsupported share", args: []string{"--handled", "50"}, wantErr: "--handled: 50 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o bench.AlerterOptions
			cmd := &cobra.Command{Use: "alerter", RunE: func(*cobra.Command, []string) error { return nil }}
			f := cmd.Flags()
			f.IntVar(&o.Events, "events", 200_000, "")
			f.IntVar(&o.Rules, "rules", 50, "")
			f.IntVar(&o.Workers, "workers", 0, "")
			f.IntVar(&o.BatchSize, "batch-size", 0, "")
			f.IntVar(&o.Handled, "handled", 0, "")
			f.IntVar(&o.Window, "window", 0, "")
			f.BoolVar(&o.Ceiling, "ceiling", false, "")
			if err := f.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if tt.want.Events == 0 && tt.wantErr == "" {
				t.Fatal("test case without a want")
			}
			got, err := alerterOptions(cmd, tt.profile, o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBenchAlerterRefusesBadProfile(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"bench", "alerter", "--profile", "nope"}, &out, &errOut); code == exitOK {
		t.Fatalf("exit %d for an unknown profile", code)
	}
	if !strings.Contains(errOut.String(), "all-handled") {
		t.Errorf("the error does not list the profiles: %s", errOut.String())
	}
}
