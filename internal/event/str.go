package event

import (
	"bytes"
	"unicode/utf8"
)

// appendUnescaped appends the text of a JSON string literal to dst. lit is
// the literal with its quotes, already validated by the scanner. It reports
// false when the literal holds a \u escape of an unpaired UTF-16 surrogate,
// which has no UTF-8 form.
func appendUnescaped(dst, lit []byte) ([]byte, bool) {
	s := lit[1 : len(lit)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return append(dst, s...), true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...), true
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		switch e := s[i+1]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+2:])
			i += 6
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return dst, false
			case r >= 0xD800 && r <= 0xDBFF:
				if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
					return dst, false
				}
				lo := hex4(s[i+2:])
				if lo < 0xDC00 || lo > 0xDFFF {
					return dst, false
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
		i += 2
	}
	return dst, true
}

// hex4 decodes the four hex digits the scanner has already checked.
func hex4(b []byte) rune {
	return rune(unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3]))
}

// AppendString appends s as a JSON string literal; the alerter builds alerts
// with it. Invalid UTF-8 becomes
// U+FFFD so that the result is always valid for the scanner.
func AppendString(dst []byte, s string) []byte { return appendLiteral(dst, s, false) }

// AppendText appends s as a JSON string literal for an event made from
// another format (syslog, SNMP). Each byte that is not part of valid UTF-8
// becomes the four characters \xNN (the literal holds `\\xNN`), so what a
// device sent stays readable instead of being replaced.
func AppendText[T string | []byte](dst []byte, s T) []byte { return appendLiteral(dst, s, true) }

func appendLiteral[T string | []byte](dst []byte, s T, keepBytes bool) []byte {
	const hexdigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		// At most 4 bytes are converted, which the compiler does on the
		// stack for a []byte.
		r, n := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			if keepBytes {
				dst = append(dst, '\\', '\\', 'x', hexdigits[c>>4], hexdigits[c&0xF])
			} else {
				dst = append(dst, `\ufffd`...)
			}
			i++
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// validUTF8 returns s, with each invalid byte replaced by U+FFFD when there are
// any, so that a string round-trips through AppendString and appendUnescaped.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}
