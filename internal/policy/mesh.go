package policy

import (
	"fmt"
	"slices"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Decision is the outcome of one authorization.
type Decision struct {
	Allow bool
	// Rule names the rule that allowed, e.g. "services.ledger.allow[1]"; empty on a
	// default deny.
	Rule string
	// Reason is a short human explanation, safe to show to the caller.
	Reason string
}

// MeshRule lets one caller use some methods on some paths.
type MeshRule struct {
	Name    string // stable id for audit, e.g. "services.ledger.allow[0]"
	Caller  spiffeid.ID
	Methods []string // upper case; "*" for any
	Paths   []Pattern
}

// Mesh decides inbound calls for one service. The zero value denies everything.
type Mesh struct {
	rules []MeshRule
}

// NewMesh returns a Mesh over rules.
func NewMesh(rules []MeshRule) *Mesh {
	return &Mesh{rules: slices.Clone(rules)}
}

// Decide allows the call only if some rule names the caller, the method and the path.
func (m *Mesh) Decide(caller spiffeid.ID, method, path string) Decision {
	for _, r := range m.rules {
		// A zero caller (no SPIFFE ID) never matches, not even a rule whose Caller is unset.
		if caller.IsZero() || r.Caller != caller {
			continue
		}
		if !slices.Contains(r.Methods, "*") && !slices.Contains(r.Methods, method) {
			continue
		}
		for _, p := range r.Paths {
			if p.Match(path) {
				return Decision{Allow: true, Rule: r.Name, Reason: "allowed by " + r.Name}
			}
		}
	}
	return Decision{Reason: fmt.Sprintf("no rule allows %s to %s %s", caller, method, path)}
}

// RouteRequirement is what a gateway route asks of the verified token.
type RouteRequirement struct {
	Name   string // e.g. "gateway.routes[0]"
	Roles  []string
	Scopes []string
}

// DecideRoute allows when the token has any of the required roles (or none are required)
// and all of the required scopes.
func DecideRoute(req RouteRequirement, roles, scopes []string) Decision {
	if len(req.Roles) > 0 && !slices.ContainsFunc(req.Roles, func(r string) bool { return slices.Contains(roles, r) }) {
		return Decision{Rule: req.Name, Reason: "token lacks a required role"}
	}
	for _, s := range req.Scopes {
		if !slices.Contains(scopes, s) {
			return Decision{Rule: req.Name, Reason: "token lacks required scope " + s}
		}
	}
	return Decision{Allow: true, Rule: req.Name, Reason: "allowed by " + req.Name}
}
