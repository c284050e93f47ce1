package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// maxJSONDepth bounds the nesting of a JSON body: the schema walk recurses per level.
const maxJSONDepth = 64

// maxNameLen bounds a client-chosen name (property, parameter) quoted in an error.
const maxNameLen = 64

// explain turns an openapi3filter error into a rejection. It builds the message from the
// error's structure (which parameter, which JSON pointer, the schema's rule) and never
// from Error(), whose text includes the offending value and the schema dump.
func explain(err error, rt *routers.Route) *rejection {
	var me openapi3.MultiError
	if errors.As(err, &me) && len(me) > 0 {
		err = me[0]
	}
	var se *openapi3filter.SecurityRequirementsError
	if errors.As(err, &se) {
		msg := "the access token does not satisfy the security requirements of the route's API document"
		var sc *scopeError
		if errors.As(err, &sc) {
			msg = fmt.Sprintf("the access token lacks the scope %q that the route's API document requires", sc.scope)
		}
		return &rejection{status: http.StatusForbidden, code: "forbidden", message: msg}
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return invalid("the request does not match the route's API document")
	}
	switch {
	case re.Parameter != nil:
		return invalid(fmt.Sprintf("%s parameter %q %s", re.Parameter.In, re.Parameter.Name, paramProblem(re.Err)))
	case re.RequestBody != nil:
		return invalid(bodyProblem(re, rt))
	case re.Err != nil && strings.Contains(re.Err.Error(), "request body not allowed"):
		return invalid("this operation takes no request body")
	}
	return invalid("the request does not match the route's API document")
}

func paramProblem(err error) string {
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	switch {
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		return "is required"
	case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
		return "must not be empty"
	case errors.As(err, &se):
		return schemaProblem(se)
	case errors.As(err, &pe):
		return "is not in the form its schema describes"
	}
	return "is invalid"
}

func bodyProblem(re *openapi3filter.RequestError, rt *routers.Route) string {
	var se *openapi3.SchemaError
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return "a request body is required"
	case re.Err == nil && strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"):
		var want []string
		if rb := rt.Operation.RequestBody; rb != nil && rb.Value != nil {
			want = slices.Sorted(func(yield func(string) bool) {
				for k := range rb.Value.Content {
					if !yield(k) {
						return
					}
				}
			})
		}
		ct := publicName(re.Input.Request.Header.Get("Content-Type"))
		return fmt.Sprintf("content type %q is not accepted; want %s", ct, strings.Join(want, " or "))
	case errors.As(re.Err, &se):
		return "request body " + schemaProblem(se)
	case re.Reason == "failed to decode request body":
		return "the request body is not valid " + publicName(mediaType(re.Input.Request.Header.Get("Content-Type")))
	}
	return "the request body does not match the route's API document"
}

// schemaProblem names where (a JSON pointer) and which rule of the schema failed. kin's
// Reason never holds the value ("value must be an integer", "property \"x\" is
// missing"); a property name it quotes comes from the client and is bounded.
func schemaProblem(se *openapi3.SchemaError) string {
	where := ""
	ptr := se.JSONPointer()
	if se.SchemaField == "required" && len(ptr) > 0 {
		ptr = ptr[:len(ptr)-1] // the reason names the missing property
	}
	if len(ptr) > 0 {
		parts := make([]string, len(ptr))
		for i, p := range ptr {
			parts[i] = publicName(p)
		}
		where = "at /" + strings.Join(parts, "/") + " "
	}
	reason := se.Reason
	if reason == "" {
		reason = fmt.Sprintf("does not match the schema's %q", se.SchemaField)
	}
	return where + publicRule(reason)
}

// publicName bounds a client-chosen string quoted in an error and strips control
// characters.
func publicName(s string) string { return bound(s, maxNameLen) }

// publicRule bounds a rule message (which may quote a client-chosen property name).
func publicRule(s string) string { return bound(s, 4*maxNameLen) }

func bound(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// checkJSON accepts exactly one JSON value, in valid UTF-8, with no duplicate member name in any object
// and at most maxJSONDepth levels. Duplicates are refused because JSON parsers disagree on
// them (first wins, last wins): the gateway and the service must read the same document.
// openapi3filter's decoder would take the last and ignore trailing data.
func checkJSON(data []byte) error {
	if !utf8.Valid(data) {
		// encoding/json would read invalid bytes as U+FFFD; a service may not.
		return errors.New("is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // in an object: the next string token is a key
	}
	var stack []*frame
	seen := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) != 0 {
				return errors.New("is not valid JSON")
			}
			break
		}
		if err != nil {
			return errors.New("is not valid JSON")
		}
		seen = true
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.object {
					top.expect = true
				}
				if len(stack) >= maxJSONDepth {
					return fmt.Errorf("is nested deeper than %d levels", maxJSONDepth)
				}
				stack = append(stack, &frame{object: t == '{', keys: map[string]bool{}, expect: t == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].expect = true
				}
			}
		case string:
			if top != nil && top.object && top.expect {
				if top.keys[t] {
					return fmt.Errorf("has the member %q twice in one object", publicName(t))
				}
				top.keys[t] = true
				top.expect = false
				continue
			}
			if top != nil && top.object {
				top.expect = true
			}
		default:
			if top != nil && top.object {
				top.expect = true
			}
		}
		if len(stack) == 0 && dec.More() {
			return errors.New("holds more than one JSON value")
		}
	}
	if !seen {
		return errors.New("is not valid JSON")
	}
	return nil
}
