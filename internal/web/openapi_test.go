package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"gopkg.in/yaml.v3"

	apidoc "github.com/mutt-go/mutt/docs/api"
)

// loadOpenAPI parses and validates docs/api/openapi.yaml.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(apidoc.OpenAPI())
	if err != nil {
		t.Fatalf("loading docs/api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/api/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPIDescribesEveryRoute checks that the document lists every route
// the server registers, under both prefixes, and nothing it does not serve.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	e := newEnv(t)
	want := map[string]bool{"GET /health": true, "GET /metrics": true}
	for _, rt := range e.srv.apiRoutes() {
		for _, p := range APIPrefixes() {
			want[rt.method+" "+p+rt.path] = true
		}
	}
	got := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			got[method+" "+path] = true
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("route %s is not in docs/api/openapi.yaml", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("docs/api/openapi.yaml describes %s, which the server does not serve", k)
		}
	}
}

// TestOpenAPIVersionTwins checks that every /api/v2 path is described
// exactly as its /api/v1 twin, since both prefixes share one handler.
func TestOpenAPIVersionTwins(t *testing.T) {
	var raw struct {
		Paths map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(apidoc.OpenAPI(), &raw); err != nil {
		t.Fatal(err)
	}
	for path, v1 := range raw.Paths {
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		twin := "/api/v2/" + strings.TrimPrefix(path, "/api/v1/")
		v2, ok := raw.Paths[twin]
		if !ok {
			t.Errorf("%s has no twin %s", path, twin)
			continue
		}
		a, _ := yaml.Marshal(v1)
		b, _ := yaml.Marshal(v2)
		if !bytes.Equal(a, b) {
			t.Errorf("%s and %s are described differently", path, twin)
		}
	}
}

// TestOpenAPIMatchesResponses replays real exchanges of every route and
// status class and validates each request and response against the
// document.
func TestOpenAPIMatchesResponses(t *testing.T) {
	doc := loadOpenAPI(t)
	doc.Servers = openapi3.Servers{{URL: "http://mutt.test"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	checked := 0
	for _, x := range exchanges(t) {
		req, err := http.NewRequest(x.Method, "http://mutt.test"+x.Path, bytes.NewReader(x.RequestBody))
		if err != nil {
			t.Fatal(err)
		}
		if len(x.RequestBody) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			// Only the answers for unknown paths and methods may be
			// missing from the document.
			if (errors.Is(err, routers.ErrPathNotFound) && x.Status == http.StatusNotFound) ||
				(errors.Is(err, routers.ErrMethodNotAllowed) && x.Status == http.StatusMethodNotAllowed) ||
				!strings.HasPrefix(x.Path, "/api/") && x.Path != "/health" && x.Path != "/metrics" {
				continue
			}
			t.Errorf("%s %s: not in the document: %v", x.Method, x.Path, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		if x.Status < 300 {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s %s: request does not match the document: %v", x.Method, x.Path, err)
			}
		}
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: x.Status, Header: x.Header,
			Body: io.NopCloser(bytes.NewReader(x.Body)), Options: opts,
		}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s (%d): response does not match the document: %v\nbody: %.300s", x.Method, x.Path, x.Status, err, x.Body)
		}
		checked++
	}
	if checked < 100 {
		t.Errorf("only %d exchanges validated; the replay is not covering the API", checked)
	}
}

// TestOpenAPIServed checks that the server publishes the same document as
// the repository, without a key.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	res := e.do(req{method: "GET", path: "/api/openapi.yaml", noKey: true}).want(t, 200)
	file, err := os.ReadFile("../../docs/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Body, file) {
		t.Error("/api/openapi.yaml differs from docs/api/openapi.yaml")
	}
}
