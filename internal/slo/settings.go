package slo

import (
	"math"
	"strconv"
	"strings"
)

// Settings reads dynamic configuration values; dynconfig.Store satisfies
// it. A nil Settings means every value takes its default.
type Settings interface {
	// String returns the value of name, or fallback when it is unset.
	String(name, fallback string) string
}

// maxWindowHours bounds a configured window to one year.
const maxWindowHours = 24 * 366

// Dynamic keys read besides the per-SLO slo_<name>_* keys.
const (
	keyWindowHours          = "slo_window_hours"
	keyIngestSuccessTarget  = "slo_ingest_success_target"
	keyForwardSuccessTarget = "slo_forward_success_target"
	keyWindowHoursSuffix    = "_window_hours"
	keyBurnWarningSuffix    = "_burn_rate_warning"
	keyBurnCriticalSuffix   = "_burn_rate_critical"
	keyUpperWarningSuffix   = "_upper_bound_warning"
	keyUpperCriticalSuffix  = "_upper_bound_critical"
	perSLOKeyPrefix         = "slo_"
)

// globalWindowHours is the window every SLO uses unless its own key says
// otherwise: slo_window_hours, else fallback.
func globalWindowHours(s Settings, fallback int) int {
	return intSetting(s, keyWindowHours, fallback)
}

// resolve applies the dynamic overrides to d and rewrites its query for
// its window. Values that are unset, unparsable or out of range keep the
// definition's (or the global) default.
func resolve(d Definition, s Settings) Definition {
	key := func(suffix string) string { return perSLOKeyPrefix + d.Name + suffix }
	if d.WindowHours <= 0 {
		d.WindowHours = DefaultWindowHours
	}
	d.WindowHours = intSetting(s, key(keyWindowHoursSuffix), globalWindowHours(s, d.WindowHours))
	switch d.Kind {
	case Ratio:
		switch d.Name {
		case IngestorAvailability:
			d.Target = ratioSetting(s, keyIngestSuccessTarget, d.Target)
		case ForwarderAvailability:
			d.Target = ratioSetting(s, keyForwardSuccessTarget, d.Target)
		}
		d.BurnWarning = positiveSetting(s, key(keyBurnWarningSuffix), orDefault(d.BurnWarning, DefaultBurnWarning))
		d.BurnCritical = positiveSetting(s, key(keyBurnCriticalSuffix), orDefault(d.BurnCritical, DefaultBurnCritical))
	case Latency:
		d.UpperWarning = positiveSetting(s, key(keyUpperWarningSuffix), d.UpperWarning)
		d.UpperCritical = positiveSetting(s, key(keyUpperCriticalSuffix), d.UpperCritical)
	}
	d.Query = strings.ReplaceAll(d.Query, baseWindow, "["+strconv.Itoa(d.WindowHours)+"h]")
	return d
}

// orDefault is v, or def when v is unset (zero).
func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// lookup returns the trimmed value of name, "" when unset or when there
// are no settings.
func lookup(s Settings, name string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(s.String(name, ""))
}

// intSetting reads a window in hours from 1 to maxWindowHours.
func intSetting(s Settings, name string, fallback int) int {
	n, err := strconv.Atoi(lookup(s, name))
	if err != nil || n < 1 || n > maxWindowHours {
		return fallback
	}
	return n
}

// positiveSetting reads a finite number greater than zero.
func positiveSetting(s Settings, name string, fallback float64) float64 {
	f, ok := floatSetting(s, name)
	if !ok || f <= 0 {
		return fallback
	}
	return f
}

// ratioSetting reads a target ratio greater than 0 and at most 1.
func ratioSetting(s Settings, name string, fallback float64) float64 {
	f, ok := floatSetting(s, name)
	if !ok || f <= 0 || f > 1 {
		return fallback
	}
	return f
}

// floatSetting reads a finite number; ok is false when name is unset or
// does not hold one.
func floatSetting(s Settings, name string) (float64, bool) {
	v := lookup(s, name)
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
