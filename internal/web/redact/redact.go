package redact

import (
	"net/url"
	"strings"
)

// Marker replaces every redacted value.
const Marker = "REDACTED"

// Unparsable is what Query returns for a query it cannot read, since
// nothing in it can be told apart from a credential.
const Unparsable = "[unparsable]"

// maxDepth bounds how many levels of encoding or nesting are looked into;
// a value still encoded or nested deeper is replaced whole.
const maxDepth = 4

// secretWords make a parameter name secret when its lower-case letters and
// digits contain one of them: api_key, X-Api-Key, apikey, key, token,
// access_token, password, passwd, secret, auth, credential, signature.
var secretWords = []string{"key", "token", "passw", "pwd", "secret", "auth", "credential", "signature"}

// SecretName reports whether a query parameter called name holds a
// credential, comparing case-insensitively and ignoring '-', '_' and '.'.
func SecretName(name string) bool {
	n := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, strings.ToLower(name))
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Query returns the raw query string with the value of every secret
// parameter replaced by Marker, and every other value that itself holds a
// query (a URL with '?', or "a=b" pairs, encoded any number of times up to
// the bound) redacted the same way and encoded again. A query that does not
// parse is Unparsable.
func Query(raw string) string {
	if raw == "" {
		return ""
	}
	out, ok := query(raw, 0)
	if !ok {
		return Unparsable
	}
	return out
}

// query redacts a raw query at nesting depth.
func query(raw string, depth int) (string, bool) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", false
	}
	for name, vs := range q {
		for i, v := range vs {
			if SecretName(name) {
				vs[i] = Marker
				continue
			}
			vs[i] = value(v, depth+1)
		}
	}
	return q.Encode(), true
}

// value redacts one decoded parameter value at nesting depth: a URL or
// query inside it, or the text it decodes to when it is encoded again.
func value(v string, depth int) string {
	if !strings.ContainsAny(v, "?=%") {
		return v
	}
	if depth > maxDepth {
		return Marker
	}
	base, rawQuery, hasQ := strings.Cut(v, "?")
	if !hasQ && !strings.Contains(v, "=") {
		// Only escapes: look at what they spell.
		dec, err := url.QueryUnescape(v)
		if err != nil {
			return Marker
		}
		if r := value(dec, depth+1); r != dec {
			return url.QueryEscape(r)
		}
		return v
	}
	if !hasQ {
		base, rawQuery = "", v
	} else if value(base, depth+1) != base {
		// An encoded query hides in the part before '?'.
		return Marker
	}
	r, ok := query(rawQuery, depth)
	switch {
	case !ok:
		return Marker
	case !hasQ:
		return r
	}
	return base + "?" + r
}

// URI returns a request URI (path and query) with its query redacted.
func URI(requestURI string) string {
	path, rawQuery, ok := strings.Cut(requestURI, "?")
	if !ok {
		return requestURI
	}
	return path + "?" + Query(rawQuery)
}
