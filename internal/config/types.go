package config

import (
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Config is the whole of bulwark.yaml. Field comments are the operator reference; the
// README's configuration section is generated from the same words.
type Config struct {
	// TrustDomain names the SPIFFE trust domain, e.g. "bank.local". Every workload ID is
	// spiffe://<trust_domain>/svc/<name>. Required.
	TrustDomain string `yaml:"trust_domain"`
	// StateDir holds the CA, keys, audit log, sockets and datastores. Relative paths are
	// resolved against the directory of the config file's caller (the working directory).
	// Default "./.bulwark"; the --state-dir flag overrides it.
	StateDir string `yaml:"state_dir"`
	// Identity configures the embedded workload CA.
	Identity Identity `yaml:"identity"`
	// Control configures the control plane's mTLS listener (embedded OIDC provider).
	Control Control `yaml:"control"`
	// Services lists the workloads in the mesh, each fronted by its own sidecar.
	Services []Service `yaml:"services"`
	// Gateway configures the edge.
	Gateway Gateway `yaml:"gateway"`
	// IdentityProvider says which OAuth 2.0 / OIDC issuer the gateway trusts.
	IdentityProvider IdentityProvider `yaml:"identity_provider"`
	// Audit configures the audit trail.
	Audit Audit `yaml:"audit"`
	// Policies is the operator's policy directory: its *.cedar files and optional
	// entities.json are added to the policies compiled from this file (see policies.go).
	// A relative path is resolved against the directory of this config file. Default: none.
	Policies string `yaml:"policies"`
	// Tokenization grants services the control plane's tokenize and detokenize APIs
	// (tokenization.go). Default: nobody.
	Tokenization Tokenization `yaml:"tokenization"`
	// SecretStore chooses the secret store's backend (secrets.go); services[].secrets
	// grant access to it. Default: embedded.
	SecretStore SecretStore `yaml:"secret_store"`
	// Keys chooses the key manager's master key (keys.go): a file (default) or a Vault
	// Transit key.
	Keys Keys `yaml:"keys"`
	// Store is where the bank's apps keep their data unless services[].store says
	// otherwise: "sqlite" (default: one file per service in <state_dir>/data) or
	// "postgres" (a database per service on the postgres server, store.go).
	Store string `yaml:"store"`
	// Postgres configures the PostgreSQL server and its short-lived credentials (store.go).
	Postgres Postgres `yaml:"postgres"`
	// Tracing configures OpenTelemetry traces (tracing.go). Default: off.
	Tracing Tracing `yaml:"tracing"`
	// Metrics configures the Prometheus metrics listeners of every role (metrics.go).
	// Default: off.
	Metrics Metrics `yaml:"metrics"`

	// TD is TrustDomain, parsed.
	TD spiffeid.TrustDomain `yaml:"-"`

	file  string
	lines map[string]int
}

// Identity configures the embedded CA.
type Identity struct {
	// SVIDTTL is the lifetime of every X.509-SVID; sidecars renew at half-life. Default 1h,
	// minimum 10s, maximum 24h.
	SVIDTTL time.Duration `yaml:"svid_ttl"`
}

// Control configures the control plane's network face.
type Control struct {
	// Listen is the host:port of the control plane's mTLS listener. Only the gateway's SVID
	// is accepted there. Default "127.0.0.1:0" (any free port).
	Listen string `yaml:"listen"`
	// Address is how the gateway dials the control plane; default: the bound listen address.
	Address string `yaml:"address"`
}

// Service is one workload and the rules of its sidecar.
type Service struct {
	// Name is the service name, [a-z0-9-], unique; "gateway" and "control" are reserved.
	Name string `yaml:"name"`
	// Upstream is where the sidecar reaches the app: "unix:PATH" (relative paths are
	// resolved against <state_dir>/run) or "http://127.0.0.1:PORT" (loopback only, unless
	// unsafe_non_loopback_upstream is set).
	Upstream string `yaml:"upstream"`
	// UnsafeNonLoopbackUpstream allows an upstream on a non-loopback address, which puts a
	// plaintext hop on the network. Default false.
	UnsafeNonLoopbackUpstream bool `yaml:"unsafe_non_loopback_upstream"`
	// Listen is the host:port of the sidecar's inbound mTLS listener. Default "127.0.0.1:0".
	Listen string `yaml:"listen"`
	// Address is how peers dial this sidecar; default: the bound listen address.
	Address string `yaml:"address"`
	// Allow lists who may call this service. Anything not allowed is denied.
	Allow []AllowRule `yaml:"allow"`
	// Resilience bounds the timeouts, retries, concurrency and circuit breaker of the
	// gateway's and every sidecar's calls to this service (see resilience.go).
	Resilience Resilience `yaml:"resilience"`
	// Secrets grants this service access to secret paths in the control plane's secret
	// store (see secrets.go). Anything not granted is denied.
	Secrets []SecretGrant `yaml:"secrets"`
	// Store overrides the top-level store for this service: "sqlite" or "postgres".
	Store string `yaml:"store"`

	// ID is spiffe://<trust_domain>/svc/<name>.
	ID spiffeid.ID `yaml:"-"`
}

// AllowRule grants one caller some methods on some paths.
type AllowRule struct {
	// Caller is the calling service's name, or "gateway".
	Caller string `yaml:"caller"`
	// Methods are HTTP methods, upper case; "*" means any.
	Methods []string `yaml:"methods"`
	// Paths are path patterns: "/entries" matches exactly, "*" matches one segment,
	// a final "**" matches any number of segments (including none).
	Paths []string `yaml:"paths"`
}

// Gateway configures the edge gateway.
type Gateway struct {
	// Listen is the HTTPS listen address. Default "127.0.0.1:8443".
	Listen string `yaml:"listen"`
	// PublicURL is the https URL clients use to reach the gateway; the embedded provider's
	// issuer is <public_url>/oidc. Default "https://<listen>".
	PublicURL string `yaml:"public_url"`
	// TLS is the edge certificate. When both files are empty, Bulwark generates an edge CA
	// and a server certificate for localhost and 127.0.0.1 in <state_dir>/edge.
	TLS TLSFiles `yaml:"tls"`
	// Routes map path patterns to services; the first match wins. Unmatched paths get 404.
	Routes []Route `yaml:"routes"`
	// RateLimit chooses the rate limiter's backend and caps in-flight requests (see
	// ratelimit.go).
	RateLimit RateLimit `yaml:"rate_limit"`
	// Limits bounds request sizes, timeouts and HTTP/2 streams at the edge (see limits.go).
	Limits Limits `yaml:"limits"`
}

// TLSFiles names a PEM certificate chain and its private key.
type TLSFiles struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Route sends matching requests to a service.
type Route struct {
	// Path is a path pattern (see AllowRule.Paths).
	Path string `yaml:"path"`
	// Service is the target service's name.
	Service string `yaml:"service"`
	// Auth is "required" (default: a valid access token) or "none".
	Auth string `yaml:"auth"`
	// Roles: the token must carry at least one of these roles (empty: no role needed).
	Roles []string `yaml:"roles"`
	// Scopes: the token must carry every one of these scopes.
	Scopes []string `yaml:"scopes"`
	// RateLimit limits requests per key on this route; absent means no per-route limit.
	RateLimit RouteRateLimit `yaml:"rate_limit"`
	// Methods lists the HTTP methods the route accepts (GET, HEAD, POST, PUT, PATCH,
	// DELETE, OPTIONS); any other gets 405 with an Allow header, before authentication.
	// Absent: any method (see route_access.go).
	Methods []string `yaml:"methods"`
	// CORS lets browsers on the listed origins call the route (see route_access.go).
	CORS RouteCORS `yaml:"cors"`
	// IPs allows or denies client addresses (CIDR) on the route (see route_access.go).
	IPs RouteIPs `yaml:"ips"`
	// OpenAPI names an OpenAPI 3.0 document, relative to this config file's directory,
	// that every request on the route must match (see route_openapi.go).
	OpenAPI string `yaml:"openapi"`
	// API is the OpenAPI document, loaded and validated by Validate; nil without one.
	API *openapi3.T `yaml:"-"`
	// APISum is the SHA-256 of the bytes API was parsed from (hot reload compares it with
	// the file's current contents); zero without a document.
	APISum [32]byte `yaml:"-"`
	// MaxBodyBytes overrides gateway.limits.max_body_bytes on this route (see limits.go).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// CaseInsensitive matches this route on the lower-cased path and forwards that path
	// (see limits.go).
	CaseInsensitive bool `yaml:"case_insensitive"`
}

// IdentityProvider configures token issuance and verification.
type IdentityProvider struct {
	// Issuer is an external OIDC issuer URL (https). Empty means the embedded provider,
	// served by the control plane and reached through the gateway at <gateway>/oidc.
	Issuer string `yaml:"issuer"`
	// CAFile is a PEM bundle to trust for the external issuer's TLS; default: system roots.
	CAFile string `yaml:"ca_file"`
	// Audience is the "aud" every access token must carry. Default "bulwark".
	Audience string `yaml:"audience"`
	// Algorithms is the JWS algorithm allow-list. Default [ES256, RS256]. Symmetric
	// algorithms and "none" are rejected.
	Algorithms []string `yaml:"algorithms"`
	// RolesClaim is the claim holding the user's roles. Default "roles".
	RolesClaim string `yaml:"roles_claim"`
	// RequiredTyp, when set (e.g. "at+jwt"), is the only JWS "typ" accepted from this
	// issuer. Default: at+jwt, application/at+jwt, JWT or none (the embedded provider sends
	// JWT).
	RequiredTyp string `yaml:"required_typ"`
	// TrustedIssuers are further issuers whose tokens the gateway accepts, each with its
	// own keys, audience, algorithms, roles claim and typ (see issuers.go).
	TrustedIssuers []TrustedIssuer `yaml:"trusted_issuers"`
	// ClockSkew is the leeway for exp and nbf. Default 30s, maximum 5m.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// AccessTokenTTL is the lifetime of tokens the embedded provider issues. Default 15m.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	// Users of the embedded provider.
	Users []User `yaml:"users"`
	// Clients of the embedded provider.
	Clients []Client `yaml:"clients"`
}

// User is an end user of the embedded provider.
type User struct {
	// Name is the login name and the token subject.
	Name string `yaml:"name"`
	// Roles are put in the roles claim.
	Roles []string `yaml:"roles"`
	// PasswordHashFile holds an argon2id hash in PHC format. When empty, `bulwark up`
	// generates a random password and writes it to <state_dir>/dev-credentials.json.
	PasswordHashFile string `yaml:"password_hash_file"`
}

// Client is an OAuth 2.0 client of the embedded provider.
type Client struct {
	// ID is the client_id.
	ID string `yaml:"id"`
	// Public clients have no secret and must use authorization code + PKCE (S256).
	Public bool `yaml:"public"`
	// RedirectURIs are the exact redirect URIs allowed for the authorization code flow.
	RedirectURIs []string `yaml:"redirect_uris"`
	// SecretHashFile holds an argon2id hash of a confidential client's secret. When empty,
	// `bulwark up` generates a secret and writes it to <state_dir>/dev-credentials.json.
	SecretHashFile string `yaml:"secret_hash_file"`
	// Roles are put in tokens the client gets with client credentials.
	Roles []string `yaml:"roles"`
	// Scopes the client may request.
	Scopes []string `yaml:"scopes"`
}

// Audit configures the audit trail.
type Audit struct {
	// Path is the JSON-lines audit log. Default <state_dir>/audit/events.jsonl. Under
	// `bulwark up` it is the tamper-evident log: each line is a leaf of a Merkle tree, and
	// signed checkpoints and the hash chain sit next to it (see `bulwark audit verify`).
	Path string `yaml:"path"`
	// UnsafeFailOpen lets requests through when their audit event cannot be written.
	// Default false: an authorization that cannot be audited is refused (503).
	UnsafeFailOpen bool `yaml:"unsafe_fail_open"`
	// Durability is what a request's audit event must reach before the request goes on:
	// "write" (default): the audit log's file (or a standalone gateway's or sidecar's
	// spool), through the kernel: the event survives any crash of Bulwark's processes, and
	// is fsynced in the background, batched with the events around it, at most every
	// fsync_interval (checkpoints sign, and shippers deliver, only fsynced events); a
	// power loss or kernel crash can lose the events of the last fsync_interval or so.
	// "fsync": every request waits for its event's fsync, which costs throughput and
	// latency on most disks (see bench/README.md). Either way a request whose event
	// cannot be written is refused (503). Events that standalone roles deliver to the
	// collector are always fsynced before they are acknowledged.
	Durability string `yaml:"durability"`
	// FsyncInterval is, with durability "write", the least time between two fsyncs of
	// the audit log or spool: every fsync flushes the disk's cache, which is what auditing
	// cost the request path most (bench/README.md). Default 50ms, between 1ms and 1s.
	// With durability "fsync" requests wait for the fsync, so it must not be set.
	FsyncInterval time.Duration `yaml:"fsync_interval"`
	// CheckpointInterval is how often a signed checkpoint of the audit log is published
	// when events were added; one is also signed at shutdown. Default 5s, between 1s and 1h.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// WitnessDir receives a copy of every checkpoint and of the verifier key: put it on
	// other storage, so that rewriting the audit history also requires rewriting it.
	// `bulwark audit verify --witness DIR` compares both. Default: none.
	WitnessDir string `yaml:"witness_dir"`
	// Export streams the audit log to SIEMs: JSON lines over HTTPS, or syslog (RFC 5424)
	// over TLS (export.go). Default: none.
	Export []AuditExport `yaml:"export"`
	// SpoolMaxBytes bounds the local spool of each standalone gateway and sidecar
	// (<state_dir>/audit/spool/<role>/): the bytes of events the collector has not
	// acknowledged yet. When it is reached the role refuses requests it cannot audit
	// (503), or lets them through unaudited with unsafe_fail_open, and logs it.
	// Default 268435456 (256 MiB); at least 1048576 (1 MiB).
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// Transport carries spooled events to the collector (the control plane): "https"
	// (default: POST /v1/audit/events over mTLS with the role's SVID) or "nats" (a NATS
	// JetStream stream, see nats).
	Transport string `yaml:"transport"`
	// NATS configures the JetStream transport (audit_delivery.go).
	NATS AuditNATS `yaml:"nats"`
}
