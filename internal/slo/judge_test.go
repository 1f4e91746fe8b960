package slo

import (
	"testing"
)

func ptr(f float64) *float64 { return &f }

// definition returns the named definition with default settings resolved.
func definition(t *testing.T, name string) Definition {
	t.Helper()
	for _, d := range Definitions() {
		if d.Name == name {
			return resolve(d, nil)
		}
	}
	t.Fatalf("no SLO %s", name)
	return Definition{}
}

func TestJudgeRatio(t *testing.T) {
	tests := []struct {
		name, slo   string
		value       *float64
		wantStatus  Status
		wantMessage string
		wantBurn    *float64
		wantBudget  *float64
	}{
		{"within target", "ingestor_availability", ptr(0.9995), StatusOK, "Within target", ptr(0.5), ptr(0.5)},
		{"perfect", "ingestor_availability", ptr(1), StatusOK, "Within target", ptr(0), ptr(1)},
		{"exactly on target", "ingestor_availability", ptr(0.999), StatusOK, "Within target", ptr(1), ptr(0)},
		{"below target, slow burn", "ingestor_availability", ptr(0.9985), StatusBreaching, "Below target", ptr(1.5), ptr(-0.5)},
		{"just under warning", "ingestor_availability", ptr(0.9951), StatusBreaching, "Below target", ptr(4.9), ptr(-3.9)},
		{"burn exactly at warning", "ingestor_availability", ptr(0.995), StatusWarning, "Warning burn rate (5.00x target)", ptr(5), ptr(-4)},
		{"burn exactly at critical", "ingestor_availability", ptr(0.99), StatusCritical, "Critical burn rate (10.00x target)", ptr(10), ptr(-9)},
		{"nothing succeeds", "ingestor_availability", ptr(0), StatusCritical, "Critical burn rate (1000.00x target)", ptr(1000), ptr(-999)},
		{"forwarder well within", "forwarder_availability", ptr(0.999), StatusOK, "Within target", ptr(0.2), ptr(0.8)},
		{"forwarder burn at warning", "forwarder_availability", ptr(0.975), StatusWarning, "Warning burn rate (5.00x target)", ptr(5), ptr(-4)},
		{"forwarder burn at critical", "forwarder_availability", ptr(0.95), StatusCritical, "Critical burn rate (10.00x target)", ptr(10), ptr(-9)},
		{"cache reload at warning", "alerter_cache_reload_success", ptr(0.95), StatusWarning, "Warning burn rate (5.00x target)", ptr(5), ptr(-4)},
		{"no data", "ingestor_availability", nil, StatusCritical, "No data from Prometheus", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := definition(t, tt.slo)
			r := judge(d, tt.value)
			if r.Status != tt.wantStatus || r.Message != tt.wantMessage {
				t.Errorf("status %q %q, want %q %q", r.Status, r.Message, tt.wantStatus, tt.wantMessage)
			}
			checkFloat(t, "burn_rate", r.BurnRate, tt.wantBurn)
			checkFloat(t, "error_budget_remaining", r.ErrorBudgetRemaining, tt.wantBudget)
			checkFloat(t, "actual_value", r.ActualValue, tt.value)
			if tt.value == nil {
				checkFloat(t, "target", r.Target, nil)
			} else {
				checkFloat(t, "target", r.Target, &d.Target)
			}
			if r.TargetSeconds != nil {
				t.Errorf("a ratio SLO has target_seconds %v", *r.TargetSeconds)
			}
			if r.WindowHours != 24 || r.Name != tt.slo || r.Description == "" {
				t.Errorf("identity fields wrong: %+v", r)
			}
		})
	}
}

func TestJudgeLatency(t *testing.T) {
	tests := []struct {
		name, slo   string
		value       *float64
		wantStatus  Status
		wantMessage string
	}{
		{"fast", "ingestor_latency_p99", ptr(0.2), StatusOK, "Within target latency"},
		{"exactly on target", "ingestor_latency_p99", ptr(0.5), StatusOK, "Within target latency"},
		{"above target", "ingestor_latency_p99", ptr(0.6), StatusBreaching, "Above target latency"},
		{"exactly at warning", "ingestor_latency_p99", ptr(0.75), StatusWarning, "Warning latency (0.750s > 0.750s)"},
		{"exactly at critical", "ingestor_latency_p99", ptr(1.0), StatusCritical, "Critical latency (1.000s > 1.000s)"},
		{"forwarder at warning", "forwarder_latency_p99", ptr(3.2), StatusWarning, "Warning latency (3.200s > 3.000s)"},
		{"forwarder far off", "forwarder_latency_p99", ptr(12), StatusCritical, "Critical latency (12.000s > 5.000s)"},
		{"no data", "forwarder_latency_p99", nil, StatusCritical, "No data from Prometheus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := definition(t, tt.slo)
			r := judge(d, tt.value)
			if r.Status != tt.wantStatus || r.Message != tt.wantMessage {
				t.Errorf("status %q %q, want %q %q", r.Status, r.Message, tt.wantStatus, tt.wantMessage)
			}
			if tt.value == nil {
				checkFloat(t, "target_seconds", r.TargetSeconds, nil)
			} else {
				checkFloat(t, "target_seconds", r.TargetSeconds, &d.Target)
			}
			checkFloat(t, "burn_rate", r.BurnRate, nil)
			checkFloat(t, "error_budget_remaining", r.ErrorBudgetRemaining, nil)
			if r.Target != nil {
				t.Errorf("a latency SLO has target %v", *r.Target)
			}
		})
	}
}

func checkFloat(t *testing.T, field string, got, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", field, deref(got), deref(want))
	case *got != *want:
		t.Errorf("%s = %v, want %v", field, *got, *want)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
