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
)

// Outcomes.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Event is one audit record. Field names are a contract: tests assert them exactly.
// No field ever holds a token, password, key or secret value.
type Event struct {
	Time      time.Time `json:"time"`
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Component string    `json:"component"` // "gateway", "sidecar/ledger", "control"
	Outcome   string    `json:"outcome"`   // allow | deny
	Reason    string    `json:"reason,omitempty"`
	Rule      string    `json:"rule,omitempty"` // the rule that decided, e.g. services[2].allow[0]
	RequestID string    `json:"request_id,omitempty"`
	Source    string    `json:"source,omitempty"` // remote address
	Caller    string    `json:"caller,omitempty"` // caller's SPIFFE ID (mesh hops)
	User      string    `json:"user,omitempty"`   // end-user subject
	Method    string    `json:"method,omitempty"`
	Path      string    `json:"path,omitempty"`
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
