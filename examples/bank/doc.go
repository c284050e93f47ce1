// Package bank is Bulwark's reference application: a small bank made of four plain HTTP
// services — accounts, payments, ledger and notifications — that know nothing of TLS. Each
// runs behind its own Bulwark sidecar, is reachable only through it (a unix socket), and
// trusts the identity headers that sidecar sets (see internal/proxy): X-Bulwark-Caller (the
// calling workload's SPIFFE ID), X-Bulwark-User and X-Bulwark-Roles (the end user, on
// requests that came through the gateway). Services call each other through their sidecar's
// outbound socket as http://<service>/<path>; MeshClient builds that client.
//
// Each service owns one SQLite database, <dataDir>/<service>.db (mode 0600 in a 0700
// directory, WAL journal), created and seeded on first run: customers alice (A-1001) and bob
// (A-1002) with an opening balance of 100000 minor units (EUR cents) each, and tina, a teller
// with no account. Seeding happens once; later runs keep whatever the database holds.
//
// Authorization inside the apps is defense in depth behind the sidecar's policy: a customer
// sees only their own account, a teller any; only payments may write to the ledger.
package bank
