package event

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// acceptedTypes is the list named in the error about an unsupported content
// type.
const acceptedTypes = "application/json, application/*+json, application/x-ndjson, application/jsonlines or text/plain"

var bom = []byte("\xef\xbb\xbf")

// Split returns the JSON texts of the event objects in an ingest request
// body; they alias body. contentType is the raw Content-Type header value:
// JSON, any application/*+json, NDJSON / JSON Lines, text/plain (rsyslog's
// omhttp batches) and none at all are accepted, whatever the parameters.
//
// Whatever the content type, the body may be one JSON object, a JSON array of
// objects, or objects separated by newlines (blank lines, CR and surrounding
// white space are ignored, an object may itself span lines, a UTF-8 byte order
// mark may lead). Split checks only the JSON syntax and that every item is an
// object; each item still has to go through Normalize.
//
// Errors: a *BodyError for the content type, an empty, null or non-JSON body,
// a top-level scalar and an empty array; an *ItemError wrapping a *FieldError
// for an array element or line that is not an object, and an *ItemError
// wrapping a *BodyError for a line of a multi-line body that is not valid
// JSON (its Line field and message give the line number).
func Split(body []byte, contentType string) ([][]byte, error) {
	if err := checkContentType(contentType); err != nil {
		return nil, err
	}
	start := 0
	if bytes.HasPrefix(body, bom) {
		start = len(bom)
	}
	i := skipSpace(body, start)
	if i >= len(body) {
		return nil, &BodyError{Reason: "empty body"}
	}
	s := scanner{data: body, maxDepth: math.MaxInt}
	switch body[i] {
	case '[':
		return splitArray(&s, i)
	case '{':
		return splitObjects(&s, i)
	}
	end := s.value(i, 0)
	if end < 0 {
		return nil, s.bodyError()
	}
	if j := skipLineSpace(body, end); j < len(body) && body[j] != '\n' {
		s.failChar(j, "after top-level value")
		return nil, s.bodyError()
	}
	if body[i] == 'n' {
		return nil, &BodyError{Reason: "payload is null"}
	}
	return nil, &BodyError{Reason: "payload must be a JSON object, an array of objects, or newline-delimited objects"}
}

// splitArray splits a body whose first value, at i, is an array. Syntax
// errors anywhere in the body take precedence over elements that are not
// objects.
func splitArray(s *scanner, i int) ([][]byte, error) {
	body := s.data
	multiline := isMultiline(body, i)
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == ']' {
		if j := skipSpace(body, i+1); j < len(body) {
			s.failChar(j, "after top-level value")
			return nil, s.bodyError()
		}
		return nil, &BodyError{Reason: "empty batch"}
	}
	items := make([][]byte, 0, 16)
	firstBad := -1
	for {
		i = skipSpace(body, i)
		end := s.value(i, 1)
		if end < 0 {
			return nil, s.bodyError()
		}
		if firstBad < 0 && body[i] != '{' {
			firstBad = len(items)
		}
		items = append(items, body[i:end])
		if i = skipSpace(body, end); i >= len(body) {
			s.failEOF(i)
			return nil, s.bodyError()
		}
		if body[i] == ']' {
			break
		}
		if body[i] != ',' {
			s.failChar(i, "after array element")
			return nil, s.bodyError()
		}
		i++
	}
	if j := skipSpace(body, i+1); j < len(body) {
		s.failChar(j, "after top-level value")
		return nil, s.bodyError()
	}
	if firstBad >= 0 {
		return nil, &ItemError{Index: firstBad, Line: lineIf(multiline, body, items[firstBad]), Err: &FieldError{Rule: ruleObject}}
	}
	return items, nil
}

// splitObjects splits a body whose first value, at i, is an object: one
// object, or several, each ending its line.
func splitObjects(s *scanner, i int) ([][]byte, error) {
	body := s.data
	multiline := isMultiline(body, i)
	n := 1
	if multiline {
		// Blank lines inflate the count; the cap keeps a body of newlines
		// from reserving far more than it holds.
		n = min(bytes.Count(body[i:], []byte{'\n'})+1, 1024)
	}
	items := make([][]byte, 0, n)
	for {
		end := s.value(i, 0)
		if end < 0 {
			if multiline {
				return nil, &ItemError{Index: len(items), Line: lineAt(body, i), Err: s.bodyError()}
			}
			return nil, s.bodyError()
		}
		if body[i] != '{' {
			return nil, &ItemError{Index: len(items), Line: lineAt(body, i), Err: &FieldError{Rule: ruleObject}}
		}
		items = append(items, body[i:end])
		j := skipLineSpace(body, end)
		if j >= len(body) {
			return items, nil
		}
		if body[j] != '\n' {
			s.failChar(j, "after top-level value (one object per line)")
			if multiline {
				return nil, &ItemError{Index: len(items) - 1, Line: lineAt(body, i), Err: s.bodyError()}
			}
			return nil, s.bodyError()
		}
		if i = skipSpace(body, j); i >= len(body) {
			return items, nil
		}
	}
}

// skipLineSpace skips white space other than newlines.
func skipLineSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// isMultiline reports whether the body holds more than one non-blank line, its
// first non-blank byte being at i.
func isMultiline(body []byte, i int) bool {
	nl := bytes.IndexByte(body[i:], '\n')
	return nl >= 0 && skipSpace(body, i+nl) < len(body)
}

func lineAt(body []byte, off int) int {
	return bytes.Count(body[:off], []byte{'\n'}) + 1
}

func lineIf(multiline bool, body, item []byte) int {
	if !multiline {
		return 0
	}
	return Line(body, item)
}

// Line returns the 1-based line of body on which item starts, item being one
// of the slices Split returned for body; it returns 0 when item does not lie
// within body. Callers use it to fill ItemError.Line when an item of a
// multi-line body fails Normalize.
func Line(body, item []byte) int {
	if len(item) == 0 || len(body) == 0 {
		return 0
	}
	off := cap(body) - cap(item)
	if off < 0 || off >= len(body) || &body[off] != &item[0] {
		return 0
	}
	return lineAt(body, off)
}

// checkContentType accepts the media types Split understands; parameters
// such as charset are ignored because the body must be UTF-8 regardless.
func checkContentType(ct string) error {
	mt := ct
	if k := strings.IndexByte(mt, ';'); k >= 0 {
		mt = mt[:k]
	}
	mt = strings.TrimSpace(mt)
	if mt == "" {
		return nil
	}
	if typ, sub, ok := strings.Cut(mt, "/"); ok {
		switch {
		case strings.EqualFold(typ, "text"):
			if strings.EqualFold(sub, "plain") {
				return nil
			}
		case strings.EqualFold(typ, "application"):
			for _, t := range [...]string{"json", "x-ndjson", "ndjson", "jsonlines", "x-jsonlines"} {
				if strings.EqualFold(sub, t) {
					return nil
				}
			}
			if len(sub) > len("+json") && strings.EqualFold(sub[len(sub)-len("+json"):], "+json") {
				return nil
			}
		}
	}
	if len(mt) > 100 {
		mt = mt[:100] + "..."
	}
	return &BodyError{Reason: "unsupported content type " + strconv.Quote(mt) + ": send " + acceptedTypes}
}
