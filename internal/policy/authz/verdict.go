package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go"
)

// Verdict is the outcome of one decision and everything an audit event needs to say why.
type Verdict struct {
	// Allow is the decision that is enforced.
	Allow bool
	// WouldDeny is set on an allowed request that dry-run policies would have denied.
	WouldDeny bool
	// Policies are the ids that determined the decision: on allow, the permits that
	// matched; on deny, the forbids that matched or failed to evaluate; empty on a default
	// deny (no permit matched).
	Policies []string
	// DryRun are the dry-run policies behind WouldDeny.
	DryRun []string
	// Errors are policies that failed to evaluate for this request (a missing attribute, an
	// overflow). A permit that fails does not permit; a forbid that fails denies.
	Errors []PolicyError
	// Reason is a short explanation, safe to show to the caller.
	Reason string
}

// PolicyError is one policy's evaluation error.
type PolicyError struct {
	Policy  string
	Message string
}

// Outcome is "allow", "deny" or "would_deny" (allowed, but a dry-run policy would deny).
func (v Verdict) Outcome() string {
	switch {
	case !v.Allow:
		return "deny"
	case v.WouldDeny:
		return "would_deny"
	default:
		return "allow"
	}
}

// decide evaluates the request against the three policy sets and combines them:
//
//   - An enforced forbid that matches, or fails to evaluate, denies (fail closed).
//   - Otherwise the request is allowed if an enforced permit or a dry-run permit matches,
//     and denied by default if none does.
//   - An allowed request is marked WouldDeny when a dry-run forbid matched (or failed), or
//     when only dry-run permits allowed it: once the dry run ends — the forbid enforced,
//     the permit withdrawn — it would be denied.
//
// A dry-run policy never denies and never turns a deny into an allow that was not already
// granted by a (dry-run) permit.
func (e *Engine) decide(ents cedar.EntityGetter, req cedar.Request) Verdict {
	var v Verdict
	dec, diag := cedar.Authorize(e.enforced, ents, req)
	failedForbids := e.collectErrors(&v, diag)
	if dec == cedar.Deny && len(diag.Reasons) > 0 || len(failedForbids) > 0 {
		v.Policies = sortedStrings(append(reasonIDs(diag), failedForbids...))
		v.Reason = "forbidden by " + strings.Join(v.Policies, ", ")
		return v
	}
	var dryPermits, dryForbids []string
	if e.nDryPerm > 0 {
		if d, dd := cedar.Authorize(e.dryPermit, ents, req); d == cedar.Allow {
			dryPermits = reasonIDs(dd)
		} else {
			e.collectErrors(&v, dd)
		}
	}
	if e.nDryForb > 0 {
		_, dd := cedar.Authorize(e.dryForbid, ents, req)
		dryForbids = append(reasonIDs(dd), e.collectErrors(&v, dd)...)
	}
	switch {
	case dec == cedar.Allow:
		v.Allow, v.Policies = true, sortedStrings(reasonIDs(diag))
	case len(dryPermits) > 0:
		v.Allow, v.Policies = true, sortedStrings(dryPermits)
		v.WouldDeny, v.DryRun = true, dryPermits
	default:
		v.Reason = fmt.Sprintf("no policy permits %s on %s", req.Action.ID, req.Resource.ID)
		return v
	}
	if len(dryForbids) > 0 {
		v.WouldDeny = true
		v.DryRun = append(v.DryRun, dryForbids...)
	}
	v.DryRun = sortedStrings(v.DryRun)
	v.Reason = "allowed by " + strings.Join(v.Policies, ", ")
	if v.WouldDeny {
		v.Reason += "; dry run would deny: " + strings.Join(v.DryRun, ", ")
	}
	return v
}

// collectErrors appends diag's errors to v and returns the ids of the forbids that failed.
func (e *Engine) collectErrors(v *Verdict, diag cedar.Diagnostic) []string {
	var forbids []string
	for _, de := range diag.Errors {
		v.Errors = append(v.Errors, PolicyError{Policy: string(de.PolicyID), Message: de.Message})
		if e.effects[de.PolicyID] == cedar.Forbid {
			forbids = append(forbids, string(de.PolicyID))
		}
	}
	return forbids
}

func reasonIDs(diag cedar.Diagnostic) []string {
	ids := make([]string, len(diag.Reasons))
	for i, r := range diag.Reasons {
		ids[i] = string(r.PolicyID)
	}
	return ids
}

// HasPolicy reports whether id is among the policies that determined v or its dry run.
func (v Verdict) HasPolicy(id string) bool {
	return slices.Contains(v.Policies, id) || slices.Contains(v.DryRun, id)
}
