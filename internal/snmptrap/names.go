package snmptrap

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Names turns numeric OIDs into names for messages: a built-in table of
// the notifications and objects traps carry most, plus what MIB files
// define. A nil *Names uses the built-in table alone. It is read-only
// once built, so safe for concurrent use.
type Names struct {
	byOID map[string]string
}

// builtin are the names every receiver knows without MIB files.
var builtin = map[string]string{
	"1.3.6.1.6.3.1.1.5.1": "coldStart", "1.3.6.1.6.3.1.1.5.2": "warmStart", "1.3.6.1.6.3.1.1.5.3": "linkDown",
	"1.3.6.1.6.3.1.1.5.4": "linkUp", "1.3.6.1.6.3.1.1.5.5": "authenticationFailure", "1.3.6.1.6.3.1.1.5.6": "egpNeighborLoss",
	"1.3.6.1.2.1.1.1": "sysDescr", "1.3.6.1.2.1.1.2": "sysObjectID", "1.3.6.1.2.1.1.3": "sysUpTime",
	"1.3.6.1.2.1.1.4": "sysContact", "1.3.6.1.2.1.1.5": "sysName", "1.3.6.1.2.1.1.6": "sysLocation",
	"1.3.6.1.2.1.2.2.1.1": "ifIndex", "1.3.6.1.2.1.2.2.1.2": "ifDescr", "1.3.6.1.2.1.2.2.1.3": "ifType",
	"1.3.6.1.2.1.2.2.1.7": "ifAdminStatus", "1.3.6.1.2.1.2.2.1.8": "ifOperStatus", "1.3.6.1.2.1.31.1.1.1.1": "ifName",
	"1.3.6.1.2.1.31.1.1.1.18": "ifAlias",
	"1.3.6.1.6.3.1.1.4.1":     "snmpTrapOID", "1.3.6.1.6.3.1.1.4.3": "snmpTrapEnterprise", "1.3.6.1.6.3.18.1.3": "snmpTrapAddress",
	"1.3.6.1.2.1.14.16.2.2": "ospfNbrStateChange", "1.3.6.1.2.1.15.3.1.2": "bgpPeerState", "1.3.6.1.2.1.15.3.1.7": "bgpPeerRemoteAddr",
	"1.3.6.1.2.1.15.7.0.1": "bgpEstablished", "1.3.6.1.2.1.15.7.0.2": "bgpBackwardTransition",
	"1.3.6.1.4.1.9.9.41.2.0.1": "clogMessageGenerated", "1.3.6.1.4.1.9.9.43.2.0.1": "ciscoConfigManEvent",
	"1.3.6.1.4.1.9.9.117.2.0.1": "cefcModuleStatusChange", "1.3.6.1.4.1.8072.3.2.10": "netSnmpAgentOIDs.10",
}

// roots anchor MIB files that import from modules not in the directories.
var roots = map[string]string{
	"ccitt": "0", "iso": "1", "joint-iso-ccitt": "2", "org": "1.3", "dod": "1.3.6", "internet": "1.3.6.1",
	"directory": "1.3.6.1.1", "mgmt": "1.3.6.1.2", "mib-2": "1.3.6.1.2.1", "transmission": "1.3.6.1.2.1.10",
	"experimental": "1.3.6.1.3", "private": "1.3.6.1.4", "enterprises": "1.3.6.1.4.1", "security": "1.3.6.1.5",
	"snmpV2": "1.3.6.1.6", "snmpDomains": "1.3.6.1.6.1", "snmpProxys": "1.3.6.1.6.2", "snmpModules": "1.3.6.1.6.3",
	"system": "1.3.6.1.2.1.1", "interfaces": "1.3.6.1.2.1.2", "snmpTraps": "1.3.6.1.6.3.1.1.5",
}

// macros introduce a definition whose OID follows "::=".
var macros = map[string]bool{
	"OBJECT-TYPE": true, "NOTIFICATION-TYPE": true, "MODULE-IDENTITY": true, "OBJECT-IDENTITY": true,
	"OBJECT-GROUP": true, "NOTIFICATION-GROUP": true, "MODULE-COMPLIANCE": true, "AGENT-CAPABILITIES": true,
}

// LoadNames reads every file of dirs (not recursively) as SMI MIB text and
// returns the built-in names with the definitions found. Files that are
// not MIBs are ignored; an unreadable directory is an error.
func LoadNames(dirs []string) (*Names, error) {
	n := &Names{byOID: map[string]string{}}
	for oid, name := range builtin {
		n.byOID[oid] = name
	}
	type def struct {
		parent string
		arcs   []string
	}
	defs := map[string]def{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("reading MIB directory: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil || len(b) > 8<<20 {
				continue
			}
			for name, d := range parseMIB(string(b)) {
				defs[name] = def{d[0], d[1:]}
			}
		}
	}
	known := map[string]string{}
	for k, v := range roots {
		known[k] = v
	}
	// Resolve parents until nothing changes; definitions whose parent
	// never resolves are dropped.
	for progress := true; progress; {
		progress = false
		for name, d := range defs {
			base, ok := known[d.parent]
			if !ok {
				continue
			}
			known[name] = base + "." + strings.Join(d.arcs, ".")
			delete(defs, name)
			progress = true
		}
	}
	for name, oid := range known {
		if _, ok := roots[name]; !ok {
			n.byOID[oid] = name
		}
	}
	return n, nil
}

// parseMIB finds "name MACRO … ::= { parent arc… }" and v1
// "name TRAP-TYPE ENTERPRISE e … ::= n" definitions; each value is the
// parent name followed by the arcs.
func parseMIB(text string) map[string][]string {
	// Drop comments ("--" to the end of the line) and quoted text, which
	// may hold anything, "::=" included.
	var b strings.Builder
	inString := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"':
			inString = !inString
			b.WriteByte(' ')
		case inString:
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			for i < len(text) && text[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		default:
			b.WriteByte(c)
		}
	}
	r := strings.NewReplacer("{", " { ", "}", " } ")
	toks := strings.Fields(r.Replace(b.String()))
	out := map[string][]string{}
	for i := 0; i+1 < len(toks); i++ {
		name, kw := toks[i], toks[i+1]
		isObjID := kw == "OBJECT" && i+2 < len(toks) && toks[i+2] == "IDENTIFIER"
		if !(macros[kw] || isObjID || kw == "TRAP-TYPE") || !isIdent(name) {
			continue
		}
		var enterprise string
		j := i + 2
		for ; j < len(toks) && toks[j] != "::="; j++ {
			if kw == "TRAP-TYPE" && toks[j] == "ENTERPRISE" && j+1 < len(toks) {
				enterprise = toks[j+1]
			}
			if j > i+2 && j+1 < len(toks) && (macros[toks[j+1]] || toks[j+1] == "TRAP-TYPE") {
				break // a definition without "::=" (a macro's own text)
			}
		}
		if j+1 >= len(toks) || toks[j] != "::=" {
			continue
		}
		if kw == "TRAP-TYPE" {
			if _, err := strconv.Atoi(toks[j+1]); err == nil && enterprise != "" {
				out[name] = []string{enterprise, "0", toks[j+1]}
			}
			continue
		}
		if toks[j+1] != "{" {
			continue
		}
		var comp []string
		k := j + 2
		for ; k < len(toks) && toks[k] != "}"; k++ {
			comp = append(comp, toks[k])
		}
		if len(comp) < 2 || !isIdent(comp[0]) {
			continue
		}
		arcs := []string{comp[0]}
		ok := true
		for _, c := range comp[1:] {
			if p := strings.IndexByte(c, '('); p >= 0 && strings.HasSuffix(c, ")") {
				c = c[p+1 : len(c)-1]
			}
			if _, err := strconv.Atoi(c); err != nil {
				ok = false
				break
			}
			arcs = append(arcs, c)
		}
		if ok {
			out[name] = arcs
		}
		i = k
	}
	return out
}

func isIdent(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || isAlnum(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// Name returns the name of oid (no leading dot) with the instance arcs
// that follow the longest named prefix ("ifIndex.2"), or oid itself when
// nothing is named.
func (n *Names) Name(oid string) string {
	table := builtin
	if n != nil {
		table = n.byOID
	}
	if name, ok := table[oid]; ok {
		return name
	}
	for i := len(oid) - 1; i > 0; i-- {
		if oid[i] != '.' {
			continue
		}
		if name, ok := table[oid[:i]]; ok {
			return name + oid[i:]
		}
	}
	return oid
}
