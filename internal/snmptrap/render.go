package snmptrap

import (
	"encoding/hex"
	"math/big"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"

	"github.com/mutt-go/mutt/internal/event"
)

// Well-known OIDs, without the leading dot.
const (
	oidSysUpTime        = "1.3.6.1.2.1.1.3.0"
	oidSnmpTrapOID      = "1.3.6.1.6.3.1.1.4.1.0"
	oidSnmpTrapAddress  = "1.3.6.1.6.3.18.1.3.0"
	oidSnmpTrapEnterpr  = "1.3.6.1.6.3.1.1.4.3.0"
	oidGenericTrapsBase = "1.3.6.1.6.3.1.1.5."
)

// maxMessageChars bounds the rendered message; the varbinds stay whole in
// their own field.
const maxMessageChars = 2048

// V1TrapOID converts an SNMPv1 trap's enterprise, generic-trap and
// specific-trap to the SNMPv2 snmpTrapOID value (RFC 3584 section 3.1.2):
// a generic trap 0-5 becomes snmpTraps.(generic+1); an enterprise-specific
// one (6) becomes enterprise.0.specific.
func V1TrapOID(enterprise string, generic, specific int) string {
	enterprise = strings.TrimPrefix(enterprise, ".")
	if generic >= 0 && generic < 6 {
		return oidGenericTrapsBase + strconv.Itoa(generic+1)
	}
	return enterprise + ".0." + strconv.Itoa(specific)
}

// notification is a decoded trap or inform, ready to become an event.
type notification struct {
	version  string // "1", "2c", "3"
	pduType  string // "trap" or "inform"
	trapOID  string
	host     string // agent (v1 agent-addr, snmpTrapAddress.0, or the peer)
	sourceIP string
	user     string
	enterpr  string
	generic  int
	specific int
	uptime   int64 // hundredths of a second; -1 unknown
	vars     []gosnmp.SnmpPDU
}

func newNotification(p *gosnmp.SnmpPacket, peerIP string) *notification {
	n := &notification{sourceIP: peerIP, host: peerIP, uptime: -1, generic: -1, specific: -1}
	switch p.Version {
	case gosnmp.Version1:
		n.version = "1"
	case gosnmp.Version2c:
		n.version = "2c"
	default:
		n.version = "3"
		if usm, ok := p.SecurityParameters.(*gosnmp.UsmSecurityParameters); ok {
			n.user = usm.UserName
		}
	}
	n.pduType = "trap"
	if p.PDUType == gosnmp.InformRequest {
		n.pduType = "inform"
	}
	if p.PDUType == gosnmp.Trap { // v1
		n.enterpr = strings.TrimPrefix(p.Enterprise, ".")
		n.generic, n.specific = p.GenericTrap, p.SpecificTrap
		n.trapOID = V1TrapOID(p.Enterprise, p.GenericTrap, p.SpecificTrap)
		n.uptime = int64(p.Timestamp)
		if ip := net.ParseIP(p.AgentAddress); ip != nil && !ip.IsUnspecified() {
			n.host = ip.String()
		}
		n.vars = p.Variables
		return n
	}
	n.vars = make([]gosnmp.SnmpPDU, 0, len(p.Variables))
	for _, v := range p.Variables {
		switch strings.TrimPrefix(v.Name, ".") {
		case oidSysUpTime:
			if t, ok := v.Value.(uint32); ok {
				n.uptime = int64(t)
			}
		case oidSnmpTrapOID:
			if s, ok := v.Value.(string); ok {
				n.trapOID = strings.TrimPrefix(s, ".")
			}
		case oidSnmpTrapAddress:
			// A relay (snmptrapd forwarding, a proxy) names the agent here.
			if s, ok := v.Value.(string); ok {
				if ip := net.ParseIP(s); ip != nil && !ip.IsUnspecified() {
					n.host = ip.String()
				}
			}
			n.vars = append(n.vars, v)
		case oidSnmpTrapEnterpr:
			if s, ok := v.Value.(string); ok {
				n.enterpr = strings.TrimPrefix(s, ".")
			}
			n.vars = append(n.vars, v)
		default:
			n.vars = append(n.vars, v)
		}
	}
	return n
}

// appendEvent writes the notification as one event object.
func (n *notification) appendEvent(b []byte, names *Names, timestamp []byte) []byte {
	b = append(b, `{"hostname":`...)
	b = event.AppendText(b, n.host)
	b = append(b, `,"timestamp":`...)
	b = append(b, timestamp...)
	b = append(b, `,"message":`...)
	b = event.AppendText(b, n.message(names))
	if n.trapOID != "" {
		b = append(b, `,"trap_oid":`...)
		b = event.AppendText(b, n.trapOID)
		if name := names.Name(n.trapOID); name != n.trapOID {
			b = append(b, `,"trap_name":`...)
			b = event.AppendText(b, name)
		}
	}
	b = append(b, `,"snmp_version":"`...)
	b = append(b, n.version...)
	b = append(b, `","pdu_type":"`...)
	b = append(b, n.pduType...)
	b = append(b, '"')
	if n.user != "" {
		b = append(b, `,"snmp_user":`...)
		b = event.AppendText(b, n.user)
	}
	if n.enterpr != "" {
		b = append(b, `,"enterprise":`...)
		b = event.AppendText(b, n.enterpr)
	}
	if n.generic >= 0 {
		b = append(b, `,"generic_trap":`...)
		b = strconv.AppendInt(b, int64(n.generic), 10)
		b = append(b, `,"specific_trap":`...)
		b = strconv.AppendInt(b, int64(n.specific), 10)
	}
	if n.uptime >= 0 {
		b = append(b, `,"uptime":`...)
		b = strconv.AppendInt(b, n.uptime, 10)
	}
	b = append(b, `,"varbinds":[`...)
	for i, v := range n.vars {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"oid":`...)
		b = event.AppendText(b, strings.TrimPrefix(v.Name, "."))
		b = append(b, `,"type":`...)
		b = event.AppendText(b, typeName(v.Type))
		b = append(b, `,"value":`...)
		b = appendValue(b, v)
		b = append(b, '}')
	}
	b = append(b, `],"source_ip":`...)
	b = event.AppendText(b, n.sourceIP)
	b = append(b, `,"source_type":"snmp_trap"}`...)
	return b
}

// message renders "linkDown from 10.0.0.1: ifIndex.2=2 ifOperStatus.2=2".
func (n *notification) message(names *Names) string {
	var sb strings.Builder
	what := "trap"
	if n.trapOID != "" {
		what = names.Name(n.trapOID)
	}
	sb.WriteString(what)
	sb.WriteString(" from ")
	sb.WriteString(n.host)
	sep := ": "
	for _, v := range n.vars {
		if sb.Len() > maxMessageChars {
			sb.WriteString(" …")
			break
		}
		sb.WriteString(sep)
		sep = " "
		sb.WriteString(names.Name(strings.TrimPrefix(v.Name, ".")))
		sb.WriteByte('=')
		sb.WriteString(valueText(v))
	}
	return sb.String()
}

func typeName(t gosnmp.Asn1BER) string {
	switch t {
	case gosnmp.Integer:
		return "Integer"
	case gosnmp.OctetString:
		return "OctetString"
	case gosnmp.ObjectIdentifier:
		return "ObjectIdentifier"
	case gosnmp.IPAddress:
		return "IpAddress"
	case gosnmp.Counter32:
		return "Counter32"
	case gosnmp.Gauge32:
		return "Gauge32"
	case gosnmp.TimeTicks:
		return "TimeTicks"
	case gosnmp.Counter64:
		return "Counter64"
	case gosnmp.Opaque:
		return "Opaque"
	case gosnmp.Null:
		return "Null"
	case gosnmp.BitString:
		return "BitString"
	case gosnmp.NoSuchObject:
		return "NoSuchObject"
	case gosnmp.NoSuchInstance:
		return "NoSuchInstance"
	case gosnmp.EndOfMibView:
		return "EndOfMibView"
	default:
		return "Unknown"
	}
}

// appendValue writes a varbind's value: numbers as JSON numbers, text as
// a string, binary octet strings as hex ("0x0a1b…").
func appendValue(b []byte, v gosnmp.SnmpPDU) []byte {
	switch x := v.Value.(type) {
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case uint:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case *big.Int:
		return append(b, x.String()...)
	case nil:
		return append(b, "null"...)
	}
	return event.AppendText(b, valueText(v))
}

// valueText is a value as text for the message and for non-numeric values.
func valueText(v gosnmp.SnmpPDU) string {
	switch x := v.Value.(type) {
	case []byte:
		if printable(x) {
			return string(x)
		}
		return "0x" + hex.EncodeToString(x)
	case string:
		if v.Type == gosnmp.ObjectIdentifier {
			return strings.TrimPrefix(x, ".")
		}
		return x
	case nil:
		return ""
	case *big.Int:
		return x.String()
	default:
		return toString(x)
	}
}

func toString(x any) string {
	switch y := x.(type) {
	case int:
		return strconv.Itoa(y)
	case uint:
		return strconv.FormatUint(uint64(y), 10)
	case uint32:
		return strconv.FormatUint(uint64(y), 10)
	case uint64:
		return strconv.FormatUint(y, 10)
	case int64:
		return strconv.FormatInt(y, 10)
	case float32:
		return strconv.FormatFloat(float64(y), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(y, 'g', -1, 64)
	}
	return ""
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}
