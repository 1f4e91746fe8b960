package rules

import (
	"unicode"
	"unicode/utf8"
)

// appendLower appends strings.ToLower(s) to dst without allocating when dst has room, and
// reports whether s is pure ASCII. The result is byte-for-byte what strings.ToLower returns,
// including its replacement of invalid UTF-8 bytes by U+FFFD, so substring tests agree with it.
func appendLower(dst []byte, s string) ([]byte, bool) {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			break
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if i == len(s) {
		return dst, true
	}
	for _, r := range s[i:] {
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst, false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
