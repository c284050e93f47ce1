package authz

import (
	"net/netip"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// User is an end user or OAuth client, as a verified access token describes it.
type User struct {
	Name   string   // token subject; "" means no token (principal Anonymous::"anonymous")
	Roles  []string // from the roles claim
	Scopes []string // from the scope claim
	Client string   // client_id (azp) the token was issued to
}

// Context is what the request carries besides who and what.
type Context struct {
	// SourceIP is the client's address as the gateway (or the sidecar) sees it. The zero
	// Addr becomes 0.0.0.0, which no allow-list of networks contains: unknown fails closed.
	SourceIP netip.Addr
	// Time is when the request arrived; zero means time.Now(). Policies see it in UTC.
	Time time.Time
	// MTLS reports whether the client presented a verified certificate. DecideWorkload
	// always sets it: a workload is only known through mTLS.
	MTLS bool
}

// UserRequest is one request at the edge, after token verification and path
// canonicalisation, before routing.
type UserRequest struct {
	User    User
	Method  string // upper case
	Path    string // canonical (proxy.CanonicalPath)
	Context Context
}

// WorkloadRequest is one inbound request at a sidecar.
type WorkloadRequest struct {
	Caller  spiffeid.ID // the caller's verified SPIFFE ID
	Service string      // the service this sidecar fronts (the callee)
	Method  string
	Path    string
	Context Context
	// EndUser is the user the gateway asserted (X-Bulwark-User and friends), or nil. It is
	// ignored unless Caller is the gateway's SPIFFE ID.
	EndUser *User
}

// userEntity is the Cedar entity of an authenticated user.
func userEntity(u User) cedar.Entity {
	return cedar.Entity{
		UID: cedar.NewEntityUID(typeUser, cedar.String(u.Name)),
		Attributes: cedar.NewRecord(cedar.RecordMap{
			"roles":  stringSet(u.Roles),
			"scopes": stringSet(u.Scopes),
			"client": cedar.String(u.Client),
		}),
	}
}

// workloadEntity is the Cedar entity of a caller; service is the <name> of a
// spiffe://<td>/svc/<name> ID, or "".
func workloadEntity(id spiffeid.ID) cedar.Entity {
	service, _ := strings.CutPrefix(id.Path(), "/svc/")
	if strings.Contains(service, "/") || service == id.Path() {
		service = ""
	}
	return cedar.Entity{
		UID:        cedar.NewEntityUID(typeWorkload, cedar.String(id.String())),
		Attributes: cedar.NewRecord(cedar.RecordMap{"service": cedar.String(service)}),
	}
}

// contextRecord builds the Cedar context; user is the asserted end user's UID or nil.
func contextRecord(c Context, mtls bool, user *cedar.EntityUID) cedar.Record {
	ip := c.SourceIP.Unmap()
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	now := c.Time
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	m := cedar.RecordMap{
		"source_ip": cedar.IPAddr(netip.PrefixFrom(ip, ip.BitLen())),
		"now":       cedar.NewDatetime(now),
		"hour":      cedar.Long(now.Hour()),
		"weekday":   cedar.Long(now.Weekday()),
		"mtls":      cedar.Boolean(mtls),
	}
	if user != nil {
		m["user"] = *user
	}
	return cedar.NewRecord(m)
}

func stringSet(ss []string) cedar.Set {
	vs := make([]cedar.Value, len(ss))
	for i, s := range ss {
		vs[i] = cedar.String(s)
	}
	return cedar.NewSet(vs...)
}

// requestEntities serves the per-request principal, resource and asserted user ahead of the
// engine's static entities (entities.json), without copying the static map.
type requestEntities struct {
	static cedar.EntityMap
	local  [3]cedar.Entity
	n      int
}

func (r *requestEntities) add(e cedar.Entity) { r.local[r.n] = e; r.n++ }

// Get implements cedar.EntityGetter.
func (r *requestEntities) Get(uid cedar.EntityUID) (cedar.Entity, bool) {
	for i := range r.n {
		if r.local[i].UID == uid {
			return r.local[i], true
		}
	}
	e, ok := r.static[uid]
	return e, ok
}
