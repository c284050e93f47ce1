package config

import (
	"time"

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
	// Path is the JSON-lines audit log. Default <state_dir>/audit/events.jsonl.
	Path string `yaml:"path"`
	// UnsafeFailOpen lets requests through when their audit event cannot be written.
	// Default false: an authorization that cannot be audited is refused (503).
	UnsafeFailOpen bool `yaml:"unsafe_fail_open"`
}
