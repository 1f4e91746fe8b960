package secrets

import (
	"fmt"
	"os"
	"strings"
)

// Lookup finds an environment variable; os.LookupEnv has this signature.
type Lookup func(name string) (string, bool)

// FromEnv reads the secret called name: the variable name itself, or, when
// that is unset, the contents of the file named by name+"_FILE" with
// surrounding white space trimmed. ok is false when neither is set.
func FromEnv(lookup Lookup, name string) (s Secret, ok bool, err error) {
	if v, found := lookup(name); found && v != "" {
		return New(v), true, nil
	}
	path, found := lookup(name + "_FILE")
	if !found || path == "" {
		return Secret{}, false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, false, fmt.Errorf("reading %s_FILE: %w", name, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Secret{}, false, fmt.Errorf("%s_FILE names %s, which is empty", name, path)
	}
	return New(v), true, nil
}
