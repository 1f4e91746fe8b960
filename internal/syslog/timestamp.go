package syslog

import (
	"time"
)

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// futureSlack is how far ahead of the receiver's clock a year-less
// timestamp may be and still count as this year: device clocks drift and
// some log local time east of UTC.
const futureSlack = 26 * time.Hour

// parseTimestamp reads a timestamp at the start of b and returns it in
// UTC and the bytes it took. Accepted:
//
//	2025-01-15T14:30:22.123+01:00   RFC 3339 (zone optional: UTC)
//	Jan 15 14:30:22[.123]           RFC 3164, year from now (nearest past)
//	Jan 15 2025 14:30:22[.123]      Cisco ASA/FTD
//	2025 Jan 15 14:30:22            some appliances
//
// each optionally preceded by Cisco's '*' (clock not set) or '.' (clock
// not synchronised) and followed by " UTC"/" GMT"/" Z" or a numeric
// offset. Other zone names are read as UTC: they are ambiguous.
func parseTimestamp(b []byte, now time.Time) (time.Time, int, bool) {
	i := 0
	if len(b) > 0 && (b[0] == '*' || b[0] == '.') {
		i = 1
	}
	if t, n, ok := parseRFC3339(b[i:]); ok {
		return t, i + n, true
	}
	s := b[i:]
	year := -1
	j := 0
	if n := digitRun(s); n == 4 && len(s) > 5 && s[4] == ' ' {
		year = atoi(s[:4])
		j = 5
	}
	mon, ok := month(s[j:])
	if !ok {
		return time.Time{}, 0, false
	}
	j += 3
	if j >= len(s) || s[j] != ' ' {
		return time.Time{}, 0, false
	}
	j++
	if j < len(s) && s[j] == ' ' {
		j++ // "Mar  1"
	}
	n := digitRun(s[j:])
	if n < 1 || n > 2 {
		return time.Time{}, 0, false
	}
	day := atoi(s[j : j+n])
	j += n
	if j >= len(s) || s[j] != ' ' {
		return time.Time{}, 0, false
	}
	j++
	if year < 0 {
		if n := digitRun(s[j:]); n == 4 && j+4 < len(s) && s[j+4] == ' ' {
			year = atoi(s[j : j+4])
			j += 5
		}
	}
	hh, mm, ss, nanos, n, ok := clock(s[j:])
	if !ok || day < 1 || day > 31 {
		return time.Time{}, 0, false
	}
	j += n
	loc := time.UTC
	offset, zn := zone(s[j:])
	j += zn
	if offset != 0 {
		loc = time.FixedZone("", offset)
	}
	var t time.Time
	if year >= 0 {
		t = time.Date(year, mon, day, hh, mm, ss, nanos, loc)
	} else {
		t = time.Date(now.Year(), mon, day, hh, mm, ss, nanos, loc)
		if t.After(now.Add(futureSlack)) {
			t = time.Date(now.Year()-1, mon, day, hh, mm, ss, nanos, loc)
		}
	}
	if t.Day() != day {
		return time.Time{}, 0, false // Feb 30
	}
	return t.UTC(), i + j, true
}

func month(b []byte) (time.Month, bool) {
	if len(b) < 3 {
		return 0, false
	}
	for k, name := range months {
		if b[0]|0x20 == name[0]|0x20 && b[1]|0x20 == name[1] && b[2]|0x20 == name[2] {
			return time.Month(k + 1), true
		}
	}
	return 0, false
}

// clock reads hh:mm:ss with an optional fraction of up to nine digits.
func clock(b []byte) (hh, mm, ss, nanos, n int, ok bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return
	}
	for _, k := range []int{0, 1, 3, 4, 6, 7} {
		if !isDigit(b[k]) {
			return
		}
	}
	hh, mm, ss = atoi(b[0:2]), atoi(b[3:5]), atoi(b[6:8])
	if hh > 23 || mm > 59 || ss > 60 {
		return
	}
	if ss == 60 {
		ss = 59
	}
	n = 8
	if n < len(b) && (b[n] == '.' || b[n] == ',') && n+1 < len(b) && isDigit(b[n+1]) {
		k := digitRun(b[n+1:])
		frac := b[n+1 : n+1+min(k, 9)]
		nanos = atoi(frac)
		for range 9 - len(frac) {
			nanos *= 10
		}
		n += 1 + k
	}
	return hh, mm, ss, nanos, n, true
}

// zone reads " UTC", " GMT", " Z", " +hh:mm", " +hhmm" or another word of
// capitals (taken as UTC); it returns the offset in seconds and the bytes
// taken.
func zone(b []byte) (int, int) {
	if len(b) < 2 || b[0] != ' ' {
		return 0, 0
	}
	s := b[1:]
	if s[0] == '+' || s[0] == '-' {
		if off, n, ok := numericOffset(s); ok {
			return off, 1 + n
		}
		return 0, 0
	}
	k := 0
	for k < len(s) && k < 5 && s[k] >= 'A' && s[k] <= 'Z' {
		k++
	}
	if k < 1 || (k < len(s) && s[k] != ' ' && s[k] != ':') {
		return 0, 0
	}
	// Only a word that is really a zone: Cisco writes one, and a capital
	// host name must not be eaten. Accept what is commonly seen.
	switch string(s[:k]) {
	case "UTC", "GMT", "Z", "CET", "CEST", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "BST", "IST", "JST", "AEST", "AEDT":
	default:
		return 0, 0
	}
	n := 1 + k
	if n < len(b) && (b[n] == '+' || b[n] == '-') { // "UTC+01:00"
		if off, m, ok := numericOffset(b[n:]); ok {
			return off, n + m
		}
	}
	return 0, n
}

func numericOffset(s []byte) (int, int, bool) {
	if len(s) < 3 || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0, 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	h := atoi(s[1:3])
	m, n := 0, 3
	if len(s) >= 6 && s[3] == ':' && isDigit(s[4]) && isDigit(s[5]) {
		m, n = atoi(s[4:6]), 6
	} else if len(s) >= 5 && isDigit(s[3]) && isDigit(s[4]) {
		m, n = atoi(s[3:5]), 5
	}
	if h > 14 || m > 59 {
		return 0, 0, false
	}
	return sign * (h*3600 + m*60), n, true
}

// parseRFC3339 reads YYYY-MM-DDTHH:MM:SS[.frac][Z|±hh:mm] (a space instead
// of the T is accepted, a missing zone means UTC).
func parseRFC3339(b []byte) (time.Time, int, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') {
		return time.Time{}, 0, false
	}
	for _, k := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if !isDigit(b[k]) {
			return time.Time{}, 0, false
		}
	}
	hh, mm, ss, nanos, n, ok := clock(b[11:])
	if !ok {
		return time.Time{}, 0, false
	}
	year, mon, day := atoi(b[0:4]), atoi(b[5:7]), atoi(b[8:10])
	if mon < 1 || mon > 12 || day < 1 || day > 31 {
		return time.Time{}, 0, false
	}
	j := 11 + n
	loc := time.UTC
	if j < len(b) {
		switch b[j] {
		case 'Z', 'z':
			j++
		case '+', '-':
			off, k, ok := numericOffset(b[j:])
			if !ok {
				return time.Time{}, 0, false
			}
			loc = time.FixedZone("", off)
			j += k
		}
	}
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, nanos, loc)
	if t.Day() != day {
		return time.Time{}, 0, false
	}
	return t.UTC(), j, true
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}
