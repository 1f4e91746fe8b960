package rules

import "strings"

// normalizePrefix turns a rule's trap_oid into the form oidHasPrefix compares: one leading dot
// removed (rules are commonly written `.1.3.6…` while agents send `1.3.6…`), and one trailing
// `.*` or `.` removed, since the schema documents `1.3.6.1.4.1.9.*` as meaning the subtree of
// `1.3.6.1.4.1.9`. A prefix that normalises to "" has no arcs and never matches.
func normalizePrefix(trapOID string) string {
	p, wildcard := strings.CutSuffix(trapOID, ".*")
	p = strings.TrimPrefix(p, ".")
	if !wildcard {
		p = strings.TrimSuffix(p, ".")
	}
	return p
}

// oidHasPrefix reports whether oid (leading dot already removed) lies in the subtree named by
// prefix (normalised): it equals prefix or continues it with a new arc. So 1.3.6.1.4.1.9 covers
// 1.3.6.1.4.1.9.9.41 but not 1.3.6.1.4.1.99.
func oidHasPrefix(oid, prefix string) bool {
	if prefix == "" || !strings.HasPrefix(oid, prefix) {
		return false
	}
	return len(oid) == len(prefix) || oid[len(prefix)] == '.'
}
