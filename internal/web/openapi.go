package web

import (
	"net/http"

	apidoc "github.com/mutt-go/mutt/docs/api"
)

// serveOpenAPI answers with docs/api/openapi.yaml, the description of every
// route that a test checks real responses against.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	_, _ = w.Write(apidoc.OpenAPI())
}
