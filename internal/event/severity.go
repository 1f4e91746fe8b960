package event

// ParseSeverity maps a syslog severity name or digit to its number 0-7
// (RFC 5424): emerg/emergency/panic 0, alert 1, crit/critical 2, err/error 3,
// warn/warning 4, notice 5, info/informational 6, debug 7, and "0" to "7".
// Case does not matter and surrounding white space is ignored.
func ParseSeverity(s string) (int, bool) { return parseSeverity(s) }

func parseSeverity[T string | []byte](s T) (int, bool) {
	for len(s) > 0 && isSeveritySpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSeveritySpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	var buf [len("informational")]byte
	if len(s) == 0 || len(s) > len(buf) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(s)]) {
	case "0", "emerg", "emergency", "panic":
		return 0, true
	case "1", "alert":
		return 1, true
	case "2", "crit", "critical":
		return 2, true
	case "3", "err", "error":
		return 3, true
	case "4", "warn", "warning":
		return 4, true
	case "5", "notice":
		return 5, true
	case "6", "info", "informational":
		return 6, true
	case "7", "debug":
		return 7, true
	}
	return 0, false
}

func isSeveritySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
