package config

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const testAPI = `openapi: 3.0.3
info: {title: t, version: "1"}
security:
  - bearer: []
paths:
  /api/items:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object}
      responses:
        "201": {description: created}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
`

// writeAPI writes a config naming openapi: api.yaml and the document next to it, and
// returns the config's path.
func writeAPI(t *testing.T, route, doc string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfg, []byte(routeBase+route), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestOpenAPILoaded(t *testing.T) {
	c, err := Load(writeAPI(t, "      openapi: api.yaml\n", testAPI))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	api := c.Gateway.Routes[0].API
	if api == nil || api.Paths.Value("/api/items") == nil {
		t.Fatalf("routes[0].API: got %v, want the document with /api/items", api)
	}
	r := &c.Gateway.Routes[0]
	if got, want := c.OpenAPIFile(r), filepath.Join(filepath.Dir(c.File()), "api.yaml"); got != want {
		t.Errorf("OpenAPIFile: got %s, want %s", got, want)
	}
	if got, want := r.APISum, sha256.Sum256([]byte(testAPI)); got != want {
		t.Errorf("routes[0].APISum: got %x, want the SHA-256 of the document's bytes %x", got, want)
	}
}

func TestBankOpenAPI(t *testing.T) {
	c, err := Load(bankConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Gateway.Routes {
		if r.API == nil {
			t.Errorf("route %s has no OpenAPI document", r.Path)
		}
	}
}

func TestOpenAPIErrors(t *testing.T) {
	tests := []struct {
		name  string
		route string
		doc   string
		want  string // after "<dir>/bulwark.yaml:9: gateway.routes[0].openapi: "; DIR is the directory
	}{
		{"missing file", "      openapi: nope.yaml\n", testAPI,
			"read OpenAPI document: open DIR/nope.yaml: no such file or directory"},
		{"YAML syntax", "      openapi: api.yaml\n", strings.Replace(testAPI, `version: "1"}`, `version: "1"`, 1),
			"DIR/api.yaml:3: failed to unmarshal data: yaml error: yaml: line 3: did not find expected ',' or '}'"},
		{"bad schema type", "      openapi: api.yaml\n", strings.Replace(testAPI, "schema: {type: object}", "schema: {type: objekt}", 1),
			`DIR/api.yaml:11: invalid paths: invalid path /api/items: invalid operation POST: unsupported 'type' value "objekt"`},
		{"unresolvable ref", "      openapi: api.yaml\n", strings.Replace(testAPI, "schema: {type: object}", `schema: {$ref: "#/components/schemas/Nope"}`, 1),
			`DIR/api.yaml:12: failed to resolve "Nope" in fragment in URI: "#/components/schemas/Nope": map key "Nope" not found`},
		{"external ref", "      openapi: api.yaml\n", strings.Replace(testAPI, "schema: {type: object}", `schema: {$ref: "/etc/passwd"}`, 1),
			`DIR/api.yaml:12: encountered disallowed external reference: "/etc/passwd"`},
		{"OpenAPI 3.1", "      openapi: api.yaml\n", strings.Replace(testAPI, "openapi: 3.0.3", "openapi: 3.1.0", 1),
			`DIR/api.yaml:1: openapi "3.1.0" is not supported: want a 3.0.x document (3.1's validator echoes request values in errors)`},
		{"apiKey security", "      openapi: api.yaml\n", strings.Replace(testAPI, "bearer: {type: http, scheme: bearer}", "bearer: {type: apiKey, in: header, name: X-Key}", 1),
			`DIR/api.yaml:7: POST /api/items: security scheme "bearer" (apiKey) cannot be checked by the gateway, which verifies bearer tokens only (http bearer, oauth2, openIdConnect)`},
		{"security on an anonymous route", "      auth: none\n      openapi: api.yaml\n", testAPI,
			`DIR/api.yaml:7: POST /api/items: security scheme "bearer" needs a token, but the route has auth: none`},
		{"paths outside the route", "      openapi: api.yaml\n", strings.Replace(testAPI, "/api/items:", "/other/items:", 1),
			`DIR/api.yaml: none of the document's paths is under the route's path "/api/**": is it the right document?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeAPI(t, tt.route, tt.doc)
			_, err := Load(cfg)
			if err == nil {
				t.Fatal("Load: got nil error")
			}
			dir := filepath.Dir(cfg)
			line := 9 + strings.Count(tt.route, "\n") - 1
			want := cfg + ":" + strconv.Itoa(line) + ": gateway.routes[0].openapi: " + strings.ReplaceAll(tt.want, "DIR", dir)
			if got := err.Error(); got != want {
				t.Errorf("error:\ngot  %s\nwant %s", got, want)
			}
		})
	}
}
