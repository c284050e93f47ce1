package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Event kinds.
const (
	KindAuthz = "authz" // an authorization decision (gateway route, sidecar allow rule)
	KindAuthn = "authn" // a token or credential check
	KindToken = "token" // a token lifecycle change: revocation (allow: revoked, deny: refused)
	// KindConfigChange and KindPolicyChange record a hot reload of bulwark.yaml or of the
	// policy directory: outcome allow when the new state was swapped in, deny when it was
	// refused (the running state is kept) with the reason, file:line included.
	KindConfigChange = "config_change"
	KindPolicyChange = "policy_change"
	// KindSecret records a secret-store request (read, write, list, delete, undelete,
	// destroy, metadata): outcome allow or deny, the secret path only as PathHMAC.
	KindSecret = "secret"
	// KindTokenization records a tokenize or detokenize call on the control plane (Reason
	// names which and the kind); never the token or the value.
	KindTokenization = "tokenization"
	// KindSVID records an X.509-SVID minted by the embedded CA for a workload (Workload
	// API): Resource is its SPIFFE ID, Serial and Expires identify it; never the key.
	KindSVID = "svid"
	// KindDBCredentials records the control plane issuing a short-lived PostgreSQL
	// credential to a service, refusing one, or revoking an expired one (Reason names the
	// service and role); never the password.
	KindDBCredentials = "db_credentials"
	// KindKeyRotation records a change to the key manager's keys (create, rotate, rewrap,
	// retire): Resource is the key ("kek", "data/<service>/<purpose>"), Reason the action
	// and versions; never key material.
	KindKeyRotation = "key_rotation"
	// KindAdmin records a state-changing CLI command (`bulwark keys …`, `secrets put`)
	// before it acts: User is the OS user, Reason the command and the names of the flags
	// given, never their values or the secret data; RequestID is shared by every event of
	// the command. A command that fails after this event records it again with outcome
	// Failure and the cause (from a fixed list, never the error's text) in Reason.
	KindAdmin = "admin"
)

// Outcomes.
const (
	Allow = "allow"
	Deny  = "deny"
	// Failure follows an event recorded before an action (an admin command's) when the
	// action then failed: the same event, with the first one's request_id, outcome failure
	// and the cause in Reason, so that the log does not read as if the action happened.
	Failure = "failure"
)

// Event is one audit record. Field names are a contract: tests assert them exactly.
// No field ever holds a token, password, key or secret value.
// TraceID is the request's W3C trace id (32 hex digits), set when tracing is on.
type Event struct {
	Time      time.Time `json:"time"`
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Component string    `json:"component"` // "gateway", "sidecar/ledger", "control"
	Outcome   string    `json:"outcome"`   // allow | deny | failure
	Reason    string    `json:"reason,omitempty"`
	Rule      string    `json:"rule,omitempty"` // the bulwark.yaml rule the request matched: gateway.routes[i] at the edge, the services[i].allow[j] that permitted in the mesh
	RequestID string    `json:"request_id,omitempty"`
	TraceID   string    `json:"trace_id,omitempty"`
	Source    string    `json:"source,omitempty"` // remote address
	Caller    string    `json:"caller,omitempty"` // caller's SPIFFE ID (mesh hops)
	User      string    `json:"user,omitempty"`   // end-user subject
	Method    string    `json:"method,omitempty"`
	Path      string    `json:"path,omitempty"`
	// Policies are the ids of the policies that decided an authz event (policy/authz
	// Verdict.Policies): the permits that allowed, or the forbids that denied; empty on a
	// default deny (no policy permits).
	Policies []string `json:"policies,omitempty"`
	// WouldDeny marks an allowed request that dry-run policies (@dry_run("true")) would
	// have denied; DryRun names them.
	WouldDeny bool     `json:"would_deny,omitempty"`
	DryRun    []string `json:"dry_run,omitempty"`
	// PathHMAC is the HMAC-SHA256 of a secret path ("hmac-sha256:<hex>", key sealed in the
	// state dir), set on secret events instead of the clear path.
	PathHMAC string `json:"path_hmac,omitempty"`
	// Resource names what a non-request event is about: the SPIFFE ID of an issued SVID.
	Resource string `json:"resource,omitempty"`
	// Serial and Expires identify an issued certificate (hex serial, NotAfter).
	Serial  string     `json:"serial,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	// Reporter is the SPIFFE ID that delivered the event to the collector, stamped by the
	// collector (package audit/collect) from the authenticated sender; a role never sets
	// it, and the collector refuses an event that does. Empty on the control plane's own
	// events.
	Reporter string `json:"reporter,omitempty"`
}

// Recorder receives audit events.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// newID returns a random 128-bit event id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
