package config

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// MaxOpenAPISize bounds an OpenAPI document; a larger file is refused before parsing.
const MaxOpenAPISize = 4 << 20

// BearerSchemes are the OpenAPI security scheme types the gateway can vouch for: it
// verifies bearer access tokens itself (authenticate, authorize) before validation.
// An apiKey, HTTP basic or mutual TLS scheme is something only the service could check,
// so a document whose operations need one is refused at load rather than let through.
var BearerSchemes = []string{"http bearer", "oauth2", "openIdConnect"}

// loadRouteOpenAPI loads and checks the OpenAPI document of every route that names one.
// Documents are self-contained OpenAPI 3.0: external $refs are refused (a document must
// not make the gateway read other files or URLs), and 3.1 is refused because its schema
// validator puts request values in its error messages, which the gateway sends back.
func (c *Config) loadRouteOpenAPI() []error {
	var errs []error
	for i := range c.Gateway.Routes {
		r := &c.Gateway.Routes[i]
		r.API, r.APISum = nil, [32]byte{}
		if r.OpenAPI == "" {
			continue
		}
		p := fmt.Sprintf("gateway.routes[%d].openapi", i)
		file := c.OpenAPIFile(r)
		doc, sum, err := loadOpenAPI(file)
		if err != nil {
			errs = append(errs, c.errAt(p, "%v", err))
			continue
		}
		if err := checkOpenAPIRoute(file, doc, r); err != nil {
			errs = append(errs, c.errAt(p, "%v", err))
			continue
		}
		r.API, r.APISum = doc, sum
	}
	return errs
}

// OpenAPIFile is the file r's OpenAPI document is read from: r.OpenAPI resolved against
// the config file's directory. "" when r names none.
func (c *Config) OpenAPIFile(r *Route) string {
	if r.OpenAPI == "" || filepath.IsAbs(r.OpenAPI) {
		return r.OpenAPI
	}
	return filepath.Join(filepath.Dir(c.file), r.OpenAPI)
}

// loadOpenAPI reads, parses and validates one document, and returns it with the SHA-256 of
// the bytes it was parsed from. Errors name the document and, when it can be told, the line.
func loadOpenAPI(file string) (*openapi3.T, [32]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("read OpenAPI document: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxOpenAPISize+1))
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("read OpenAPI document %s: %w", file, err)
	}
	if len(data) > MaxOpenAPISize {
		return nil, [32]byte{}, fmt.Errorf("%s: OpenAPI document is larger than %d bytes", file, MaxOpenAPISize)
	}
	located := func(err error) error {
		if line := openAPIErrorLine(err, data); line > 0 {
			return fmt.Errorf("%s:%d: %v", file, line, err)
		}
		return fmt.Errorf("%s: %v", file, err)
	}
	loader := openapi3.NewLoader()
	loader.IncludeOrigin = true // for the line numbers in errors
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromDataWithPath(data, &url.URL{Path: file})
	if err != nil {
		return nil, [32]byte{}, located(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		return nil, [32]byte{}, located(fmt.Errorf("openapi %q is not supported: want a 3.0.x document (3.1's validator echoes request values in errors)", doc.OpenAPI))
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, [32]byte{}, located(err)
	}
	// The gateway matches the document's paths against request paths as it receives
	// them; server URLs (another host, a base path) would make no request match.
	doc.Servers = nil
	if _, err := legacy.NewRouter(doc); err != nil {
		return nil, [32]byte{}, located(err)
	}
	return doc, sha256.Sum256(data), nil
}

// checkOpenAPIRoute checks that the document fits the route: some of its paths lie under
// the route's pattern, and every operation's security can be satisfied by the gateway's
// own authentication of the route.
func checkOpenAPIRoute(file string, doc *openapi3.T, r *Route) error {
	var errs []error
	pattern := mustPattern(r.Path)
	under := false
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		if pattern.Match(paramRE.ReplaceAllString(path, "x")) {
			under = true
		}
		item := doc.Paths.Value(path)
		for _, m := range slices.Sorted(maps.Keys(item.Operations())) {
			if err := checkSecurity(doc, item.GetOperation(m), r.Auth == "none"); err != nil {
				line := 0
				if o := item.GetOperation(m).Origin; o != nil && o.Key != nil {
					line = o.Key.Line
				}
				errs = append(errs, fmt.Errorf("%s:%d: %s %s: %w", file, line, m, path, err))
			}
		}
	}
	if !under {
		errs = append(errs, fmt.Errorf("%s: none of the document's paths is under the route's path %q: is it the right document?", file, r.Path))
	}
	return errors.Join(errs...)
}

var paramRE = regexp.MustCompile(`\{[^}/]*\}`)

// checkSecurity refuses an operation whose security requirements the gateway cannot
// satisfy: the route has auth: none (no token is verified), or no alternative consists of
// bearer-token schemes only.
func checkSecurity(doc *openapi3.T, op *openapi3.Operation, anonymous bool) error {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return nil
	}
	var problems []string
	for _, req := range reqs {
		if len(req) == 0 {
			return nil // {} : anonymous access is one of the alternatives
		}
		names := make([]string, 0, len(req))
		for name := range req {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			kind := SecuritySchemeKind(doc, name)
			switch {
			case !slices.Contains(BearerSchemes, kind):
				problems = append(problems, fmt.Sprintf("security scheme %q (%s) cannot be checked by the gateway, which verifies bearer tokens only (%s)", name, kind, strings.Join(BearerSchemes, ", ")))
			case anonymous:
				problems = append(problems, fmt.Sprintf("security scheme %q needs a token, but the route has auth: none", name))
			}
		}
		if len(problems) == 0 {
			return nil
		}
	}
	return errors.New(strings.Join(problems, "; "))
}

// SecuritySchemeKind names a declared security scheme's kind as BearerSchemes spells it
// ("http bearer", "apiKey", "http basic"…), or "undeclared".
func SecuritySchemeKind(doc *openapi3.T, name string) string {
	if doc.Components == nil || doc.Components.SecuritySchemes[name] == nil || doc.Components.SecuritySchemes[name].Value == nil {
		return "undeclared"
	}
	s := doc.Components.SecuritySchemes[name].Value
	if s.Type == "http" {
		return "http " + strings.ToLower(s.Scheme)
	}
	return s.Type
}

var (
	originType   = reflect.TypeFor[*openapi3.Origin]()
	locationType = reflect.TypeFor[*openapi3.Location]()
	yamlLineRE2  = regexp.MustCompile(`line (\d+)`)
	quotedRE     = regexp.MustCompile(`"([^"]{2,})"`)
)

// openAPIErrorLine finds the line an error of kin-openapi's loader or validator is about:
// the innermost Origin the validator attached (documents are loaded with IncludeOrigin),
// else a "line N" of the YAML parser, else the first line of the document holding a
// quoted name from the message (an unresolvable $ref, an unknown scheme). 0: unknown.
func openAPIErrorLine(err error, data []byte) int {
	line := 0
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if v := reflect.ValueOf(e); v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
			s := v.Elem()
			for i := range s.NumField() {
				f := s.Field(i)
				switch {
				case f.Type() == originType && !f.IsNil():
					if o := f.Interface().(*openapi3.Origin); o.Key != nil && o.Key.Line > 0 {
						line = o.Key.Line
					}
				case f.Type() == locationType && !f.IsNil():
					if l := f.Interface().(*openapi3.Location); l.Line > 0 {
						line = l.Line
					}
				}
			}
		}
		if u, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range u.Unwrap() {
				walk(x)
			}
			return
		}
		walk(errors.Unwrap(e))
	}
	walk(err)
	if line > 0 {
		return line
	}
	msg := err.Error()
	if strings.Contains(msg, "yaml") {
		if m := yamlLineRE2.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	if m := quotedRE.FindStringSubmatch(msg); m != nil {
		for n, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, m[1]) {
				return n + 1
			}
		}
	}
	return 0
}
