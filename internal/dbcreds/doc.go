// Package dbcreds gives each service its own PostgreSQL database and issues short-lived
// credentials for it, like Vault's database secrets engine.
//
// At start the control plane creates, for every service on postgres, a database
// <prefix>_<service> owned by a NOLOGIN role <prefix>_<service>_owner; PUBLIC loses every
// privilege on the database and on its public schema. POST /v1/db/creds (through the
// service's sidecar, the caller named by its SVID) creates a fresh LOGIN role with a random
// password and VALID UNTIL now+TTL, member of that owner role only, and answers its
// connection parameters. Its sessions run as the owner role (ALTER ROLE … SET role), so the
// tables it creates belong to the service, not to a credential that will be dropped.
//
// The TTL is enforced twice. PostgreSQL refuses the password after VALID UNTIL, but only
// where pg_hba.conf asks for one: with "trust" any existing role logs in without it. So a
// reaper (Engine.Run, and Engine.Reap at start for leftovers) revokes every expired role:
// NOLOGIN first, then it terminates the role's sessions and drops it.
//
// The password travels to PostgreSQL only as a SCRAM-SHA-256 verifier, so it never appears
// in the server's statement log, and it is never logged or audited here; issuing and
// revoking are audited with the service and role name.
package dbcreds
