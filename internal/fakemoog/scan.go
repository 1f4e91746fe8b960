package fakemoog

import (
	"bytes"
	"encoding/json"
)

// externalID returns the value of the top-level "external_id" member of a
// JSON object without decoding the rest: one pass that skips strings with
// IndexByte and tracks nesting, so a key of the same name inside
// custom_info is not mistaken for it. A string value with escapes is
// decoded properly; a number or literal is returned as written; null, a
// missing member or a body that is not JSON give ok = false.
func externalID(b []byte) (id []byte, ok bool) {
	const key = "external_id"
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end := stringEnd(b, i+1)
			if end < 0 {
				return nil, false
			}
			if depth == 1 && end-i-1 == len(key) && string(b[i+1:end]) == key {
				j := skipSpace(b, end+1)
				if j < len(b) && b[j] == ':' {
					return scalar(b, skipSpace(b, j+1))
				}
			}
			i = end
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return nil, false
}

// stringEnd returns the index of the quote closing a string whose contents
// start at from, or -1 when it is unterminated.
func stringEnd(b []byte, from int) int {
	for {
		k := bytes.IndexByte(b[from:], '"')
		if k < 0 {
			return -1
		}
		q := from + k
		// The quote is escaped when an odd number of backslashes precede it.
		bs := 0
		for p := q - 1; p >= from && b[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			return q
		}
		from = q + 1
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scalar reads the value starting at i.
func scalar(b []byte, i int) ([]byte, bool) {
	if i >= len(b) {
		return nil, false
	}
	if b[i] == '"' {
		end := stringEnd(b, i+1)
		if end < 0 {
			return nil, false
		}
		raw := b[i+1 : end]
		if bytes.IndexByte(raw, '\\') < 0 {
			return raw, true
		}
		var s string
		if err := json.Unmarshal(b[i:end+1], &s); err != nil {
			return nil, false
		}
		return []byte(s), true
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	v := b[i:j]
	if len(v) == 0 || string(v) == "null" || v[0] == '{' || v[0] == '[' {
		return nil, false
	}
	return v, true
}
