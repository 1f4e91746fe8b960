package sender

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Load reads event files and returns their objects in file order, ready for
// Options.Events.
//
// A file holds a JSON array of objects, or objects one after another
// (newline-delimited JSON; a file with a single object is a special case). A
// UTF-8 byte order mark is ignored. Objects already shaped as MUTT events pass
// through with their content unchanged (only insignificant whitespace is
// dropped, so every event fits on one NDJSON line). SNMP trap records — objects
// with source_ip but neither hostname nor message, as in the demo trap file —
// are converted to what the trap collector posts: hostname = source_ip,
// message = "<source_ip> <trap_oid> <oid>=<value> …", trap_oid, severity and
// timestamp kept, source "snmp". Any other object passes through as it is: the
// ingestor is the judge of what it accepts, and Run reports its verdict.
//
// Errors name the file and, for a bad item, its zero-based index.
func Load(paths ...string) ([][]byte, error) {
	if len(paths) == 0 {
		return nil, errors.New("loading events: no files given")
	}
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("loading events: %w", err)
		}
		evs, err := decodeEvents(data)
		if err != nil {
			return nil, fmt.Errorf("loading events from %s: %w", p, err)
		}
		out = append(out, evs...)
	}
	return out, nil
}

// errTruncated reports a file that ends inside its array.
var errTruncated = errors.New("unexpected end of file (truncated or missing ])")

// decodeEvents parses one file's content. It never panics on bad input (see
// FuzzDecodeEvents).
func decodeEvents(data []byte) ([][]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("no events: the file is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var out [][]byte
	add := func(i int, raw json.RawMessage) error {
		ev, err := convert(raw)
		if err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		out = append(out, ev)
		return nil
	}

	if trimmed[0] != '[' {
		for i := 0; ; i++ {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, syntaxContext(err, data))
			}
			if err := add(i, raw); err != nil {
				return nil, err
			}
		}
	}

	if _, err := dec.Token(); err != nil {
		return nil, syntaxContext(err, data)
	}
	i := 0
	for ; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				err = errTruncated
			}
			return nil, fmt.Errorf("item %d: %w", i, syntaxContext(err, data))
		}
		if err := add(i, raw); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		if errors.Is(err, io.EOF) {
			err = errTruncated
		}
		return nil, fmt.Errorf("after item %d: %w", i-1, syntaxContext(err, data))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("unexpected data after the closing ] of the array (after item %d)", i-1)
	}
	if len(out) == 0 {
		return nil, errors.New("no events: the array is empty")
	}
	return out, nil
}

// syntaxContext adds the line number to a JSON syntax error, which by itself
// only carries a byte offset.
func syntaxContext(err error, data []byte) error {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset >= 0 && se.Offset <= int64(len(data)) {
		line := bytes.Count(data[:se.Offset], []byte("\n")) + 1
		return fmt.Errorf("line %d: %w", line, err)
	}
	return err
}

// convert validates one item and returns it compacted, converting SNMP trap
// records on the way.
func convert(raw json.RawMessage) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("want a JSON object, got %s", kindOf(raw))
	}
	_, hasHost := fields["hostname"]
	_, hasMsg := fields["message"]
	_, hasIP := fields["source_ip"]
	if hasIP && !hasHost && !hasMsg {
		return convertTrap(fields)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("compacting event: %w", err)
	}
	return buf.Bytes(), nil
}

// kindOf names the JSON type of a value for error messages.
func kindOf(raw []byte) string {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	default:
		return "a number"
	}
}

// trapEvent is the event the trap collector posts for one trap. Field order
// is the order of the JSON output.
type trapEvent struct {
	Timestamp json.RawMessage `json:"timestamp,omitempty"`
	Hostname  string          `json:"hostname"`
	Message   string          `json:"message"`
	TrapOID   string          `json:"trap_oid,omitempty"`
	Severity  json.RawMessage `json:"severity,omitempty"`
	Source    string          `json:"source"`
	SourceIP  string          `json:"source_ip"`
}

func convertTrap(fields map[string]json.RawMessage) ([]byte, error) {
	var ip, oid string
	if err := json.Unmarshal(fields["source_ip"], &ip); err != nil || strings.TrimSpace(ip) == "" {
		return nil, errors.New("trap record: source_ip must be a non-empty string")
	}
	if raw, ok := fields["trap_oid"]; ok {
		if err := json.Unmarshal(raw, &oid); err != nil {
			return nil, errors.New("trap record: trap_oid must be a string")
		}
	}
	var vars []json.RawMessage
	if raw, ok := fields["variables"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &vars); err != nil {
			return nil, errors.New("trap record: variables must be an array")
		}
	}

	parts := make([]string, 0, len(vars)+2)
	parts = append(parts, ip)
	if oid != "" {
		parts = append(parts, oid)
	}
	for j, v := range vars {
		o, val, err := parseVarbind(v)
		if err != nil {
			return nil, fmt.Errorf("trap record: variable %d: %w", j, err)
		}
		parts = append(parts, o+"="+val)
	}

	ev := trapEvent{
		Timestamp: compactRaw(fields["timestamp"]),
		Hostname:  ip,
		Message:   strings.Join(parts, " "),
		TrapOID:   oid,
		Severity:  compactRaw(fields["severity"]),
		Source:    "snmp",
		SourceIP:  ip,
	}
	out, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encoding converted trap: %w", err)
	}
	return out, nil
}

// compactRaw drops whitespace from a field copied verbatim; the input is
// already known to be valid JSON.
func compactRaw(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil
	}
	return buf.Bytes()
}

// parseVarbind reads one variable binding, either the string form
// "@{oid=<oid>; value=<value>}" of the demo trap file or an object
// {"oid": …, "value": …}.
func parseVarbind(raw json.RawMessage) (oid, value string, err error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return parseVarbindString(s)
	}
	var obj struct {
		OID   string          `json:"oid"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", "", fmt.Errorf("want \"@{oid=…; value=…}\" or {\"oid\":…,\"value\":…}, got %s", kindOf(raw))
	}
	if obj.OID == "" {
		return "", "", errors.New("missing oid")
	}
	if json.Unmarshal(obj.Value, &s) == nil {
		return obj.OID, s, nil
	}
	return obj.OID, string(compactRaw(obj.Value)), nil
}

func parseVarbindString(s string) (oid, value string, err error) {
	bad := fmt.Errorf("want \"@{oid=…; value=…}\", got %q", s)
	body, ok := strings.CutPrefix(strings.TrimSpace(s), "@{")
	if !ok {
		return "", "", bad
	}
	body, ok = strings.CutSuffix(body, "}")
	if !ok {
		return "", "", bad
	}
	oidPart, valPart, ok := strings.Cut(body, ";")
	if !ok {
		return "", "", bad
	}
	oid, ok = strings.CutPrefix(strings.TrimSpace(oidPart), "oid=")
	if !ok || oid == "" {
		return "", "", bad
	}
	value, ok = strings.CutPrefix(strings.TrimLeft(valPart, " "), "value=")
	if !ok {
		return "", "", bad
	}
	return oid, value, nil
}
