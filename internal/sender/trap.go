package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Trap is one SNMPv2 notification to send: its snmpTrapOID and varbinds.
type Trap struct {
	OID  string
	Vars []Varbind
}

// Varbind is one variable binding; a value that is an integer is sent as
// INTEGER, anything else as OCTET STRING.
type Varbind struct {
	OID, Value string
}

// defaultTrapOID is sent for an event without trap_oid
// (NET-SNMP-EXAMPLES-MIB netSnmpExampleHeartbeatNotification).
const defaultTrapOID = "1.3.6.1.4.1.8072.2.3.0.1"

// LoadTraps reads JSON files of SNMP trap records (trap_oid and
// variables, as in demo_snmp_traps.json) or MUTT events: an event becomes
// a trap with its trap_oid and its message as sysDescr.0.
func LoadTraps(paths ...string) ([]Trap, error) {
	var out []Trap
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			var one map[string]json.RawMessage
			if err2 := json.Unmarshal(b, &one); err2 != nil {
				return nil, fmt.Errorf("%s: want a JSON array of trap records or events: %w", p, err)
			}
			items = append(items, one)
		}
		for i, it := range items {
			tr, err := trapOf(it)
			if err != nil {
				return nil, fmt.Errorf("%s: item %d: %w", p, i, err)
			}
			out = append(out, tr)
		}
	}
	return out, nil
}

// TrapsFrom makes traps of event objects (see LoadTraps).
func TrapsFrom(events [][]byte) ([]Trap, error) {
	out := make([]Trap, 0, len(events))
	for i, raw := range events {
		var it map[string]json.RawMessage
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		tr, err := trapOf(it)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out = append(out, tr)
	}
	return out, nil
}

func trapOf(it map[string]json.RawMessage) (Trap, error) {
	var tr Trap
	if raw, ok := it["trap_oid"]; ok {
		if err := json.Unmarshal(raw, &tr.OID); err != nil {
			return tr, fmt.Errorf("trap_oid must be a string")
		}
	}
	tr.OID = strings.TrimPrefix(strings.TrimSpace(tr.OID), ".")
	if tr.OID == "" {
		tr.OID = defaultTrapOID
	}
	if raw, ok := it["variables"]; ok && string(raw) != "null" {
		var vars []json.RawMessage
		if err := json.Unmarshal(raw, &vars); err != nil {
			return tr, fmt.Errorf("variables must be an array")
		}
		for j, v := range vars {
			o, val, err := parseVarbind(v)
			if err != nil {
				return tr, fmt.Errorf("variable %d: %w", j, err)
			}
			tr.Vars = append(tr.Vars, Varbind{OID: o, Value: val})
		}
		return tr, nil
	}
	var msg string
	if raw, ok := it["message"]; ok {
		_ = json.Unmarshal(raw, &msg)
	}
	if msg != "" {
		tr.Vars = append(tr.Vars, Varbind{OID: "1.3.6.1.2.1.1.1.0", Value: msg})
	}
	return tr, nil
}

// PDUs returns the trap's varbinds for gosnmp, snmpTrapOID.0 first
// (gosnmp prepends sysUpTime.0).
func (t Trap) PDUs() []gosnmp.SnmpPDU {
	pdus := make([]gosnmp.SnmpPDU, 0, len(t.Vars)+1)
	pdus = append(pdus, gosnmp.SnmpPDU{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: "." + t.OID})
	for _, v := range t.Vars {
		if n, err := strconv.Atoi(v.Value); err == nil {
			pdus = append(pdus, gosnmp.SnmpPDU{Name: "." + strings.TrimPrefix(v.OID, "."), Type: gosnmp.Integer, Value: n})
			continue
		}
		pdus = append(pdus, gosnmp.SnmpPDU{Name: "." + strings.TrimPrefix(v.OID, "."), Type: gosnmp.OctetString, Value: v.Value})
	}
	return pdus
}

// TrapOptions configure SendTraps.
type TrapOptions struct {
	// Target is host:port.
	Target string
	// Community is the v2c community; it is never printed.
	Community string
	// Inform sends InformRequests and waits for each acknowledgement.
	Inform bool
	// Traps to send.
	Traps []Trap
	// Repeat sends the set this many times (default 1).
	Repeat int
	// Rate is traps per second; 0 sends as fast as possible.
	Rate float64
	// Timeout is an inform's wait for its answer (default 5s, one retry).
	Timeout time.Duration
}

// SendTraps sends SNMPv2c traps (or informs) with gosnmp.
func SendTraps(ctx context.Context, opts TrapOptions) (NativeSummary, error) {
	host, portText, err := net.SplitHostPort(opts.Target)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil || port < 1 || port > 65535 {
		return NativeSummary{}, fmt.Errorf("--trap must be host:port, got %q", opts.Target)
	}
	if opts.Repeat <= 0 {
		opts.Repeat = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	g := &gosnmp.GoSNMP{Target: host, Port: uint16(port), Community: opts.Community, Version: gosnmp.Version2c,
		Timeout: opts.Timeout, Retries: 1, Context: ctx}
	if err := g.Connect(); err != nil {
		return NativeSummary{}, fmt.Errorf("opening a socket to %s: %w", opts.Target, err)
	}
	defer g.Conn.Close()
	sum := NativeSummary{Messages: len(opts.Traps) * opts.Repeat}
	start := time.Now()
	p := pacer{start: start, rate: opts.Rate}
	i := 0
	for range opts.Repeat {
		for _, tr := range opts.Traps {
			if err := p.wait(ctx, i); err != nil {
				sum.Elapsed = time.Since(start)
				return sum, err
			}
			i++
			if _, err := g.SendTrap(gosnmp.SnmpTrap{Variables: tr.PDUs(), IsInform: opts.Inform}); err != nil {
				sum.fail(fmt.Errorf("sending trap %s: %w", tr.OID, err))
				continue
			}
			sum.Sent++
		}
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}
