package configadmin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// FormatValue turns the JSON value of an API request into the string that
// is stored: a string verbatim, a number in its shortest decimal form, a
// boolean as true or false. null, objects and arrays are refused with an
// error wrapping ErrInvalidValue.
func FormatValue(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", fmt.Errorf("%w: the value is missing", ErrInvalidValue)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("%w: not JSON: %v", ErrInvalidValue, err)
	}
	if dec.More() {
		return "", fmt.Errorf("%w: more than one JSON value", ErrInvalidValue)
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case json.Number:
		return shortestNumber(t)
	case nil:
		return "", fmt.Errorf("%w: the value must not be null", ErrInvalidValue)
	}
	return "", fmt.Errorf("%w: the value must be a string, a number or a boolean, not an object or array", ErrInvalidValue)
}

// shortestNumber writes integers exactly (any size that fits int64) and
// other numbers in the shortest form that reads back as the same float64:
// 5 → "5", 1.50 → "1.5", 1e3 → "1000", 2.5e-7 → "2.5e-07".
func shortestNumber(n json.Number) (string, error) {
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return strconv.FormatInt(i, 10), nil
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return "", fmt.Errorf("%w: number %s is out of range", ErrInvalidValue, n)
		}
		return "", fmt.Errorf("%w: number %s: %v", ErrInvalidValue, n, err)
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}
