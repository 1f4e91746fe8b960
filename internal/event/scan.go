package event

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// scanner validates JSON text (RFC 8259, strings must be valid UTF-8) without
// building any values: callers learn only where each value ends. It keeps an
// explicit stack instead of recursing, so hostile nesting costs one bit per
// level rather than a goroutine stack frame.
//
// On failure a method returns -1 and leaves the reason in errOff/errMsg, or
// sets tooDeep when the nesting limit was hit.
type scanner struct {
	data     []byte
	maxDepth int

	errOff  int
	errMsg  string
	tooDeep bool
	escaped bool // the last string scanned contained a backslash escape

	// kinds holds one bit per open container, set for objects. Depths
	// beyond the inline words spill into ext.
	inline [2]uint64
	ext    []uint64
}

// plain marks the ASCII bytes that stand for themselves inside a string.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func (s *scanner) setKind(depth int, obj bool) {
	w, bit := (depth-1)/64, uint64(1)<<uint((depth-1)%64)
	var word *uint64
	if w < len(s.inline) {
		word = &s.inline[w]
	} else {
		w -= len(s.inline)
		for len(s.ext) <= w {
			s.ext = append(s.ext, 0)
		}
		word = &s.ext[w]
	}
	if obj {
		*word |= bit
	} else {
		*word &^= bit
	}
}

func (s *scanner) isObj(depth int) bool {
	w, bit := (depth-1)/64, uint64(1)<<uint((depth-1)%64)
	if w < len(s.inline) {
		return s.inline[w]&bit != 0
	}
	return s.ext[w-len(s.inline)]&bit != 0
}

// value validates the JSON value that starts at i (after optional
// whitespace) inside containers nested base deep, and returns the offset just
// past it.
func (s *scanner) value(i, base int) int {
	b := s.data
	depth := base
next:
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return s.failEOF(i)
		}
		switch c := b[i]; c {
		case '{':
			depth++
			if depth > s.maxDepth {
				return s.failDepth(i)
			}
			s.setKind(depth, true)
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == '}' {
				depth--
				i++
				break
			}
			if i = s.key(i); i < 0 {
				return -1
			}
			continue next
		case '[':
			depth++
			if depth > s.maxDepth {
				return s.failDepth(i)
			}
			s.setKind(depth, false)
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == ']' {
				depth--
				i++
				break
			}
			continue next
		case '"':
			if i = s.str(i); i < 0 {
				return -1
			}
		case 't':
			if i = s.lit(i, "true"); i < 0 {
				return -1
			}
		case 'f':
			if i = s.lit(i, "false"); i < 0 {
				return -1
			}
		case 'n':
			if i = s.lit(i, "null"); i < 0 {
				return -1
			}
		default:
			if c != '-' && (c < '0' || c > '9') {
				return s.failChar(i, "looking for beginning of value")
			}
			if i = s.num(i); i < 0 {
				return -1
			}
		}
		// A value ended at i: close containers until one continues.
		for depth > base {
			i = skipSpace(b, i)
			if i >= len(b) {
				return s.failEOF(i)
			}
			c := b[i]
			if s.isObj(depth) {
				switch c {
				case ',':
					if i = s.key(skipSpace(b, i+1)); i < 0 {
						return -1
					}
					continue next
				case '}':
					depth--
					i++
					continue
				}
				return s.failChar(i, "after object key:value pair")
			}
			switch c {
			case ',':
				i++
				continue next
			case ']':
				depth--
				i++
				continue
			}
			return s.failChar(i, "after array element")
		}
		return i
	}
}

// key validates an object key and the colon after it, returning the offset
// just past the colon.
func (s *scanner) key(i int) int {
	b := s.data
	if i >= len(b) {
		return s.failEOF(i)
	}
	if b[i] != '"' {
		return s.failChar(i, "looking for beginning of object key string")
	}
	if i = s.str(i); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) {
		return s.failEOF(i)
	}
	if b[i] != ':' {
		return s.failChar(i, "after object key")
	}
	return i + 1
}

// str validates the string literal whose opening quote is at i and returns
// the offset just past its closing quote.
func (s *scanner) str(i int) int {
	b := s.data
	s.escaped = false
	i++
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			if c == '"' {
				return i + 1
			}
			if c == '\\' {
				s.escaped = true
				if i = s.escape(i); i < 0 {
					return -1
				}
				continue
			}
			return s.failChar(i, "in string literal")
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return s.fail(i, "invalid UTF-8 in string")
		}
		i += n
	}
	return s.failEOF(i)
}

func (s *scanner) escape(i int) int {
	b := s.data
	if i+1 >= len(b) {
		return s.failEOF(i + 1)
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2
	case 'u':
		for k := i + 2; k < i+6; k++ {
			if k >= len(b) {
				return s.failEOF(k)
			}
			if unhex(b[k]) < 0 {
				return s.failChar(k, "in \\u hexadecimal character escape")
			}
		}
		return i + 6
	}
	return s.failChar(i+1, "in string escape code")
}

func (s *scanner) lit(i int, want string) int {
	b := s.data
	for k := 0; k < len(want); k++ {
		if i+k >= len(b) {
			return s.failEOF(i + k)
		}
		if b[i+k] != want[k] {
			return s.failChar(i+k, "in literal "+want+" (expecting "+strconv.QuoteRune(rune(want[k]))+")")
		}
	}
	return i + len(want)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (s *scanner) num(i int) int {
	b := s.data
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return s.failEOF(i)
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return s.failChar(i, "in numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) {
			return s.failEOF(i)
		}
		if !isDigit(b[i]) {
			return s.failChar(i, "after decimal point in numeric literal")
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return s.failEOF(i)
		}
		if !isDigit(b[i]) {
			return s.failChar(i, "in exponent of numeric literal")
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i
}

func (s *scanner) fail(i int, msg string) int {
	s.errOff, s.errMsg = i, msg
	return -1
}

func (s *scanner) failEOF(i int) int { return s.fail(i, "unexpected end of input") }

func (s *scanner) failChar(i int, context string) int {
	return s.fail(i, "invalid character "+quoteByte(s.data[i])+" "+context)
}

func (s *scanner) failDepth(i int) int {
	s.errOff, s.tooDeep = i, true
	return -1
}

// bodyError describes the last syntax failure as a *BodyError.
func (s *scanner) bodyError() *BodyError {
	return invalidJSON(s.data, s.errOff, s.errMsg)
}

// invalidJSON builds the *BodyError for a syntax error at byte off of data,
// adding the line and column when data spans several lines.
func invalidJSON(data []byte, off int, msg string) *BodyError {
	r := "invalid JSON: " + msg + " at byte " + strconv.Itoa(off)
	if off > len(data) {
		off = len(data)
	}
	if nl := bytes.Count(data[:off], []byte{'\n'}); nl > 0 || bytes.IndexByte(data[off:], '\n') >= 0 {
		col := off - bytes.LastIndexByte(data[:off], '\n')
		r += " (line " + strconv.Itoa(nl+1) + ", column " + strconv.Itoa(col) + ")"
	}
	return &BodyError{Reason: r}
}

func quoteByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return "byte 0x" + strconv.FormatUint(uint64(c), 16)
	}
	return strconv.QuoteRune(rune(c))
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
