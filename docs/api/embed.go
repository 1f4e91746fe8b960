// Package apidoc holds the OpenAPI description of MUTT's web API, so that
// the web service can serve the same document the repository publishes.
package apidoc

import (
	"bytes"
	_ "embed"
)

//go:embed openapi.yaml
var openapi []byte

// OpenAPI returns a copy of docs/api/openapi.yaml.
func OpenAPI() []byte { return bytes.Clone(openapi) }
