package authn

import (
	"fmt"
	"strings"
)

// clientID returns "azp" (OpenID Connect) or, failing that, "client_id" (RFC 9068).
func clientID(claims map[string]any) (string, error) {
	for _, name := range []string{"azp", "client_id"} {
		v, ok := claims[name]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("claim %q: not a string", name)
		}
		if s != "" {
			return s, nil
		}
	}
	return "", nil
}

// roles reads the roles claim: a JSON array of strings, or a single string. A claim name
// that is not a top-level member is tried as a dotted path through nested objects
// ("realm_access.roles" for Keycloak); names that contain dots themselves, such as
// Auth0's "https://example.com/roles", are found first as top-level members.
func roles(claims map[string]any, name string) ([]string, error) {
	v, ok := claims[name]
	if !ok {
		v, ok = lookupPath(claims, name)
	}
	if !ok || v == nil {
		return nil, nil
	}
	list, err := stringOrList(v)
	if err != nil {
		return nil, fmt.Errorf("claim %q: %w", name, err)
	}
	for _, r := range list {
		// Roles reach apps comma-joined (X-Bulwark-Roles): "x,teller" would become teller.
		if r == "" || strings.ContainsAny(r, ", \t\r\n") {
			return nil, fmt.Errorf("claim %q: role %q is empty or contains a separator", name, r)
		}
	}
	return list, nil
}

func lookupPath(claims map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	if len(parts) < 2 {
		return nil, false
	}
	var cur any = claims
	for _, p := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// scopes reads "scope" (RFC 8693/9068: a space-separated string) or, failing that, "scp"
// (an array, as Okta and Azure send it; a space-separated string is accepted too).
func scopes(claims map[string]any) ([]string, error) {
	if v, ok := claims["scope"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("claim \"scope\": not a string")
		}
		return strings.Fields(s), nil
	}
	v, ok := claims["scp"]
	if !ok || v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		return strings.Fields(s), nil
	}
	list, err := stringOrList(v)
	if err != nil {
		return nil, fmt.Errorf("claim \"scp\": %w", err)
	}
	for _, s := range list {
		// Scopes reach apps space-joined (X-Bulwark-Scopes): "read admin" would become admin.
		if s == "" || strings.ContainsAny(s, ", \t\r\n") {
			return nil, fmt.Errorf("claim \"scp\": scope %q is empty or contains a separator", s)
		}
	}
	return list, nil
}

// stringOrList accepts a string or an array of strings. Any other shape is an error rather
// than silently dropped, so an issuer misconfiguration shows up instead of granting less.
func stringOrList(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d is not a string", i)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("not a string or an array of strings")
}

// isIDToken reports claims only an OpenID Connect ID token carries (at_hash, c_hash). An
// issuer may sign ID and access tokens with the same key and put the API audience in both,
// so without this check a client could present its ID token as an access token.
func isIDToken(claims map[string]any) bool {
	_, atHash := claims["at_hash"]
	_, cHash := claims["c_hash"]
	return atHash || cHash
}
