// Package policy decides who may do what, deny by default. This first version evaluates the
// allow rules of bulwark.yaml: mesh rules (caller SPIFFE ID, method, path) for sidecars and
// route requirements (roles, scopes) for the gateway. Every decision names the rule that made
// it, so audit events can say why.
package policy
