// Package authz is Bulwark's one authorization engine for the edge and the mesh, on Cedar
// (github.com/cedar-policy/cedar-go). The allow rules of bulwark.yaml compile to Cedar
// policies; operators add *.cedar files for ABAC conditions; the gateway decides on users
// (DecideUser), each sidecar on calling workloads (DecideWorkload). Deny by default, forbid
// wins, and every Verdict names the policies that made it.
//
// # Model
//
// The Cedar schema is schema.cedarschema (embedded as Schema); operator policies and
// entities.json are validated against it when loaded.
//
// Principals:
//   - User::"<token subject>" {roles: Set<String>, scopes: Set<String>, client: String}
//   - Anonymous::"anonymous" — an edge request without a token (routes with auth: none)
//   - Workload::"spiffe://<td>/svc/<name>" {service: String (<name>, or "")}
//
// Actions: Action::"<HTTP method>" — GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS,
// CONNECT, TRACE.
//
// Resource: Path::"<canonical path>" {service, path, depth (number of segments),
// patterns (Set<String>, see below), route ("gateway.routes[i]" of the first route that
// matches at the edge, "" in the mesh), owner? (User)}. It is in Service::"<service>" (the
// routed service at the edge, the callee in the mesh).
//
// Context: {source_ip: ipaddr (0.0.0.0 when unknown), now: datetime (UTC), hour: Long
// (0–23, UTC), weekday: Long (0 = Sunday … 6), mtls: Bool (always true in the mesh),
// user?: User (mesh only: the end user the gateway asserted; never set when the caller is
// not the gateway)}.
//
// # Path patterns
//
// Cedar's `like` cannot say "one segment": its `*` also matches "/". Patterns are therefore
// matched in Go by policy.Pattern — the very code the gateway and the sidecars use today —
// and the engine passes Cedar the set of pattern strings that match the request path as
// resource.patterns. A policy writes `resource.patterns.contains("/api/accounts/*")`. The
// known patterns are those of bulwark.yaml and every string literal starting with "/" in an
// operator policy. `resource.path like "…"` remains available, with Cedar's meaning.
//
// # Owner bindings (entities.json)
//
// The optional entities.json of the policy directory (Cedar JSON entity format) may bind
// an owner to a path: {"uid": {"type": "Path", "id": "/api/accounts/A-1001"}, "attrs":
// {"owner": {"__entity": {"type": "User", "id": "alice"}}}}. A request's Path inherits the
// attributes of every such entity whose id is a segment prefix of its path (so
// /api/accounts/A-1001/balance has the owner alice) and is in it, so `resource in
// Path::"/api/accounts/A-1001"` holds too. The file is static: it is read when the engine
// is built, so it must be regenerated (and the engine rebuilt) when accounts change, and an
// account it does not list has no owner. The services keep their own checks.
//
// # Policy ids
//
// Compiled rules are @id("services[i].allow[j]") and @id("gateway.routes[i]"). Operator
// policies take their @id annotation, or "<file>:<line>" without one. Ids must be unique.
//
// # Decisions and dry run
//
// An enforced forbid that matches — or fails to evaluate (fail closed, unlike plain
// Cedar, which skips it) — denies. Otherwise a matching permit allows; no permit denies.
// A policy annotated @dry_run("true") is evaluated but never denies:
//   - a dry-run forbid that matches (or fails) leaves the decision alone; if the request
//     is allowed the Verdict says WouldDeny and lists it in DryRun;
//   - a dry-run permit still permits, but a request that only dry-run permits allow is
//     marked WouldDeny with their ids: it depends on a permit that is being withdrawn.
//
// A denied request is never marked WouldDeny. Verdict.Errors lists every policy that
// failed to evaluate.
package authz
