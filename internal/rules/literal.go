package rules

import (
	"cmp"
	"regexp/syntax"
	"slices"
	"strings"
)

// maxRequiredLiterals bounds the substring checks made before a regex runs.
const maxRequiredLiterals = 4

// requiredLiterals returns lower-cased ASCII strings that every match of the rule pattern
// (compiled case-insensitively) must contain, longest first, or nil when the pattern guarantees
// none.
//
// Go's regexp cannot use its literal-prefix scan on a case-insensitive pattern, so an unanchored
// search costs roughly a pass over the message per start position, about a microsecond on a
// typical syslog line. Checking the literals in the already lower-cased message first rejects
// most non-matching messages for the price of a few substring searches. The shortcut is used only
// for ASCII messages: there ASCII case folding and lower-casing agree exactly, whereas for other
// text a rune such as U+017F (ſ) folds to s without lower-casing to it, which would make the
// shortcut wrongly reject a match.
func requiredLiterals(pattern string) []string {
	re, err := syntax.Parse("(?i)"+pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	var lits []string
	for _, l := range mustContain(re, nil) {
		l = strings.ToLower(l)
		if !slices.Contains(lits, l) {
			lits = append(lits, l)
		}
	}
	slices.SortStableFunc(lits, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	if len(lits) > maxRequiredLiterals {
		lits = lits[:maxRequiredLiterals]
	}
	return lits
}

// mustContain appends to lits ASCII strings that every match of re contains.
func mustContain(re *syntax.Regexp, lits []string) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if s := longestASCIIRun(re.Rune); s != "" {
			lits = append(lits, s)
		}
	case syntax.OpCapture, syntax.OpPlus:
		lits = mustContain(re.Sub[0], lits)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			lits = mustContain(re.Sub[0], lits)
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			lits = mustContain(sub, lits)
		}
	}
	// Alternations, optional parts, classes and empty-width assertions guarantee nothing.
	return lits
}

func longestASCIIRun(runes []rune) string {
	bestStart, bestLen, start := 0, 0, 0
	for i, r := range runes {
		if r >= 0x80 {
			start = i + 1
			continue
		}
		if n := i + 1 - start; n > bestLen {
			bestStart, bestLen = start, n
		}
	}
	b := make([]byte, bestLen)
	for i := range b {
		b[i] = byte(runes[bestStart+i])
	}
	return string(b)
}
