package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// apiValidator checks requests against one route's OpenAPI 3.0 document (kin-openapi's
// openapi3filter). It only checks: it never rewrites a request (no defaults are filled
// in), so what the service receives is byte for byte what was validated.
type apiValidator struct {
	router  routers.Router
	options *openapi3filter.Options
}

// rejection is why a request does not match the document: the status, the stable code
// and a public message naming the violated rule. The message never carries a value from
// the request, only names (of parameters, properties, media types) and the schema's rule.
type rejection struct {
	status  int
	code    string
	message string
	allow   string // Allow header of a 405
}

func newAPIValidator(doc *openapi3.T) (*apiValidator, error) {
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &apiValidator{router: router, options: &openapi3filter.Options{
		// Never openapi3filter.NoopAuthenticationFunc (which passed every scheme: an auth
		// bypass) and never nil (which fails every secured operation); see
		// authenticateScheme.
		AuthenticationFunc:                authenticateScheme,
		SkipSettingDefaults:               true,
		RejectWhenRequestBodyNotSpecified: true,
	}}, nil
}

// authenticateScheme is openapi3filter's AuthenticationFunc. The gateway authenticates
// the request itself before validation (authenticate, authorize), so this does not verify
// anything again: it says whether what the gateway verified satisfies one security scheme
// of the document. A bearer scheme (http bearer, oauth2, openIdConnect) is satisfied only
// when the gateway verified an access token on this request and that token carries every
// scope the requirement lists; any other scheme (apiKey, basic, mutualTLS) is something
// the gateway cannot vouch for and fails (config load refuses documents that need one).
// A document's security can therefore narrow access, never widen it.
func authenticateScheme(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || !slices.Contains(config.BearerSchemes, schemeKind(in.SecurityScheme)) {
		return in.NewError(errSchemeUnsupported)
	}
	p, ok := principalFrom(ctx)
	if !ok {
		return in.NewError(errNoToken)
	}
	for _, s := range in.Scopes {
		if !slices.Contains(p.Scopes, s) {
			return in.NewError(&scopeError{scope: s})
		}
	}
	return nil
}

var (
	errSchemeUnsupported = errors.New("security scheme not verifiable by the gateway")
	errNoToken           = errors.New("no verified access token")
)

type scopeError struct{ scope string }

func (e *scopeError) Error() string {
	return fmt.Sprintf("the access token lacks the scope %q", e.scope)
}

func schemeKind(s *openapi3.SecurityScheme) string {
	if s.Type == "http" {
		return "http " + strings.ToLower(s.Scheme)
	}
	return s.Type
}

// check validates r against the document. It reads the body (already bounded by
// limitBody) once, and leaves r.Body holding exactly the bytes it validated, for the
// proxy to forward. principal, if any, must already be in r's context.
func (v *apiValidator) check(r *http.Request) *rejection {
	rt, params, err := v.router.FindRoute(r)
	if err != nil {
		return routeRejection(err, v, r)
	}
	if rej := checkQuery(r, rt); rej != nil {
		return rej
	}
	data, rej := bufferBody(r)
	if rej != nil {
		return rej
	}
	if rej := checkBody(r.Header.Values("Content-Type"), data); rej != nil {
		return rej
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: rt, Options: v.options}
	err = openapi3filter.ValidateRequest(r.Context(), in)
	resetBody(r, data)
	if err != nil {
		return explain(err, rt)
	}
	return nil
}

// routeRejection turns the router's answer into 404 (no such path in the document) or
// 405 (the path has no such operation; Allow lists the document's methods).
func routeRejection(err error, v *apiValidator, r *http.Request) *rejection {
	var re *routers.RouteError
	if errors.As(err, &re) && re.Reason == routers.ErrMethodNotAllowed.Error() {
		var methods []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			probe := &http.Request{Method: m, URL: r.URL, Header: http.Header{}}
			if _, _, err := v.router.FindRoute(probe); err == nil {
				methods = append(methods, m)
			}
		}
		return &rejection{status: http.StatusMethodNotAllowed, code: proxy.CodeMethodNotAllowed,
			message: "the route's API document has no " + r.Method + " operation for this path", allow: strings.Join(methods, ", ")}
	}
	return &rejection{status: http.StatusNotFound, code: proxy.CodeNotFound, message: "the route's API document has no operation for this path"}
}

// checkQuery refuses a query string that does not parse, a parameter that is not an
// array given more than once, and query parameters the operation does not declare: like
// additionalProperties: false for a body, so that nothing undeclared reaches the service.
// (An exploded form object, whose properties are the parameter names, turns the check off
// for its operation.)
func checkQuery(r *http.Request, rt *routers.Route) *rejection {
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return invalid("the query string is not valid form encoding")
	}
	declared := map[string]bool{} // name → may be repeated (an array)
	var deep []string
	for _, ps := range []openapi3.Parameters{rt.PathItem.Parameters, rt.Operation.Parameters} {
		for _, ref := range ps {
			p := ref.Value
			if p == nil || p.In != openapi3.ParameterInQuery {
				continue
			}
			declared[p.Name] = p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type.Is(openapi3.TypeArray)
			if p.Style == openapi3.SerializationDeepObject {
				deep = append(deep, p.Name+"[")
			}
			if sm, err := p.SerializationMethod(); err == nil && sm.Style == openapi3.SerializationForm && sm.Explode &&
				p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type.Is(openapi3.TypeObject) {
				return nil
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		repeatable, ok := declared[name]
		switch {
		case ok && !repeatable && len(q[name]) > 1:
			// The validator checks the first value; many frameworks read the last.
			return invalid(fmt.Sprintf("query parameter %q is given more than once", publicName(name)))
		case ok, slices.ContainsFunc(deep, func(pre string) bool { return strings.HasPrefix(name, pre) }):
			continue
		}
		return invalid(fmt.Sprintf("query parameter %q is not declared by the operation", publicName(name)))
	}
	return nil
}

// bufferBody reads the whole body, which limitBody has already bounded: over the limit is
// 413, as without validation.
func bufferBody(r *http.Request) ([]byte, *rejection) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	data, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &rejection{status: http.StatusRequestEntityTooLarge, code: codeTooLarge,
				message: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)}
		}
		return nil, &rejection{status: http.StatusBadRequest, code: codeInvalidRequest, message: "the request body could not be read"}
	}
	resetBody(r, data)
	return data, nil
}

// resetBody makes data the request's body, with its exact length (a streamed body is
// forwarded with a Content-Length).
func resetBody(r *http.Request, data []byte) {
	r.ContentLength = int64(len(data))
	r.TransferEncoding = nil
	if len(data) == 0 {
		r.Body, r.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	r.Body, _ = r.GetBody()
}

// checkBody refuses a body that the service could read otherwise than the gateway
// validates it: under a second Content-Type header (some servers read the last, the
// validator the first), a malformed media type (which openapi3filter would cut at ";" and
// take the rest on trust), or JSON that checkJSON refuses or that claims a charset other
// than UTF-8 (a service that honours it would decode other characters, and in Shift_JIS
// a backslash can vanish into the byte before it and end a string early).
func checkBody(types []string, data []byte) *rejection {
	if len(types) > 1 {
		return invalid("the request has more than one Content-Type header; send one")
	}
	if len(data) == 0 || len(types) == 0 {
		return nil
	}
	mt, params, err := mime.ParseMediaType(types[0])
	if err != nil {
		return invalid("the Content-Type header is not a valid media type")
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return invalid("a JSON body must be UTF-8 (RFC 8259): leave out the charset parameter or set it to utf-8")
	}
	if err := checkJSON(data); err != nil {
		return invalid("request body " + err.Error())
	}
	return nil
}

func invalid(msg string) *rejection {
	return &rejection{status: http.StatusBadRequest, code: codeInvalidRequest, message: msg}
}

// validateRequest checks the request against its route's OpenAPI document. It runs after
// authentication, rate limiting and authorization: a caller who may not use the route
// learns nothing of its schema (not even which fields it has), and a flood of invalid
// requests is rate limited like any other. A mismatch is refused before the service sees
// it, with a JSON error naming the violated rule, and audited.
func (g *Gateway) validateRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gd := g.guardFor(r)
		if gd == nil || gd.api == nil {
			next.ServeHTTP(w, r)
			return
		}
		rej := gd.api.check(r)
		if rej == nil {
			next.ServeHTTP(w, r)
			return
		}
		var user string
		if p, ok := principalFrom(r.Context()); ok {
			user = p.Subject
		}
		if !g.record(w, r, audit.Event{Kind: kindValidation, Outcome: audit.Deny, Reason: rej.message, Rule: gd.name + ".openapi", User: user}) {
			return
		}
		if rej.allow != "" {
			w.Header().Set("Allow", rej.allow)
		}
		proxy.WriteError(w, r, rej.status, rej.code, rej.message)
	})
}
