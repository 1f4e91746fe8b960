package rules

import (
	"crypto/sha1"
	"encoding/hex"
)

// UnhandledSignature returns the first 16 lowercase hex digits of the SHA-1 of message's bytes.
// It identifies an unhandled message in the counter key mutt:unhandled:<host>:<sig>; SHA-1 is
// kept for key compatibility with running MUTT deployments, not for any security property.
func UnhandledSignature(message string) string {
	sum := sha1.Sum([]byte(message))
	return hex.EncodeToString(sum[:8])
}
