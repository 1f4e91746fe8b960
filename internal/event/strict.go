package event

import (
	"bytes"
	"strconv"
	"strings"
)

// Rules of CheckObject beyond those of Normalize.
const (
	ruleUTF8 = "must be valid UTF-8"
	ruleNUL  = "must not contain NUL characters"
)

// CheckObject applies the ingest API's strictness to any JSON object body,
// such as the REST API's: the text must be one JSON object nested at most
// maxDepth levels, and no object at any depth may repeat a key, and no
// string (key or value) may hold invalid UTF-8, a \u escape of an unpaired
// UTF-16 surrogate, or a NUL character (which PostgreSQL text cannot
// store). encoding/json would accept each of these with a silent repair.
//
// It returns nil, a *BodyError for text that is not JSON, or a *FieldError
// whose Field is the path of the offending member ("value.a", "list[2]";
// "" for a body that is not an object or is nested too deeply).
func CheckObject(raw []byte, maxDepth int) error {
	c := checker{s: scanner{data: raw, maxDepth: maxDepth}}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return notObject(&c.s, i)
	}
	end, err := c.value(i, "", 1)
	if err != nil {
		return err
	}
	if j := skipSpace(raw, end); j < len(raw) {
		c.s.failChar(j, "after top-level value")
		return c.s.bodyError()
	}
	return nil
}

// checker walks a JSON text with the scanner's primitives, keeping the path
// of the member it is in.
type checker struct {
	s scanner
}

// value checks the value at i (after optional white space) found at path,
// depth containers deep, and returns the offset just past it.
func (c *checker) value(i int, path string, depth int) (int, error) {
	b := c.s.data
	i = skipSpace(b, i)
	if i >= len(b) {
		c.s.failEOF(i)
		return -1, c.s.bodyError()
	}
	switch b[i] {
	case '{':
		if depth > c.s.maxDepth {
			return -1, depthError(c.s.maxDepth)
		}
		return c.object(i, path, depth)
	case '[':
		if depth > c.s.maxDepth {
			return -1, depthError(c.s.maxDepth)
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for n := 0; ; n++ {
			var err error
			if i, err = c.value(i, path+"["+strconv.Itoa(n)+"]", depth+1); err != nil {
				return -1, err
			}
			if i = skipSpace(b, i); i >= len(b) {
				c.s.failEOF(i)
				return -1, c.s.bodyError()
			}
			switch b[i] {
			case ']':
				return i + 1, nil
			case ',':
				i++
				continue
			}
			c.s.failChar(i, "after array element")
			return -1, c.s.bodyError()
		}
	case '"':
		end, _, rule, err := c.str(i)
		if err == nil && rule != "" {
			err = &FieldError{Field: path, Rule: rule}
		}
		return end, err
	}
	// A number or a literal: the scanner checks it, nothing nests inside.
	end := c.s.value(i, 0)
	if end < 0 {
		return -1, c.s.bodyError()
	}
	return end, nil
}

// object checks the object whose '{' is at i.
func (c *checker) object(i int, path string, depth int) (int, error) {
	b := c.s.data
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	var inline [inlineMembers]member
	members := inline[:0]
	for {
		if i >= len(b) {
			c.s.failEOF(i)
			return -1, c.s.bodyError()
		}
		if b[i] != '"' {
			c.s.failChar(i, "looking for beginning of object key string")
			return -1, c.s.bodyError()
		}
		end, key, rule, err := c.str(i)
		if err != nil {
			return -1, err
		}
		if rule != "" {
			return -1, &FieldError{Field: join(path, keyName(b, i, key)), Rule: rule}
		}
		members = append(members, member{key: key})
		if k := duplicate(members); k >= 0 {
			return -1, &FieldError{Field: join(path, key), Rule: ruleDuplicate}
		}
		if i = skipSpace(b, end); i >= len(b) {
			c.s.failEOF(i)
			return -1, c.s.bodyError()
		}
		if b[i] != ':' {
			c.s.failChar(i, "after object key")
			return -1, c.s.bodyError()
		}
		if i, err = c.value(i+1, join(path, key), depth+1); err != nil {
			return -1, err
		}
		if i = skipSpace(b, i); i >= len(b) {
			c.s.failEOF(i)
			return -1, c.s.bodyError()
		}
		switch b[i] {
		case '}':
			return i + 1, nil
		case ',':
			i = skipSpace(b, i+1)
			continue
		}
		c.s.failChar(i, "after object key:value pair")
		return -1, c.s.bodyError()
	}
}

// str checks the string literal at i and returns the offset past it, its
// text, and the rule it breaks ("" for none; the text is nil for invalid
// UTF-8 or an unpaired surrogate). err is a syntax error.
func (c *checker) str(i int) (end int, text []byte, rule string, err error) {
	b := c.s.data
	if end = c.s.str(i); end < 0 {
		if strings.HasPrefix(c.s.errMsg, "invalid UTF-8") {
			return -1, nil, ruleUTF8, nil
		}
		return -1, nil, "", c.s.bodyError()
	}
	text, ok := appendUnescaped(nil, b[i:end])
	switch {
	case !ok:
		return end, nil, ruleSurrogate, nil
	case bytes.IndexByte(text, 0) >= 0:
		return end, text, ruleNUL, nil
	}
	return end, text, "", nil
}

// keyName names the key literal at i for an error: its text, or when it has
// none its spelling up to the next quote, invalid UTF-8 replaced.
func keyName(b []byte, i int, text []byte) []byte {
	if text != nil {
		return text
	}
	rest := b[i+1:]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		rest = rest[:j]
	}
	return []byte(validUTF8(string(rest)))
}

// join is the path of member key of the object at path.
func join(path string, key []byte) string {
	if path == "" {
		return string(key)
	}
	return path + "." + string(key)
}
