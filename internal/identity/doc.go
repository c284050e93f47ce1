// Package identity gives every workload its SPIFFE identity and checks the identities of others.
//
// It holds:
//
//   - the embedded workload CA (LoadOrCreateCA): a self-signed ECDSA P-256 root valid for one
//     year and an intermediate signed by it, valid for 90 days and renewed when less than a
//     third of its life remains (on load, and on issuance in a long-running process). Private
//     keys are sealed with the master key (purposes "ca/root.key" and "ca/intermediate.key")
//     and written 0600 in a 0700 directory; certificates are PEM. The trust bundle is the root
//     alone, so renewing the intermediate changes nothing for peers;
//   - X.509-SVID issuance (CA.IssueSVID) following the SPIFFE X.509-SVID specification: a fresh
//     P-256 key, exactly one URI SAN, not a CA, digitalSignature only, serverAuth and
//     clientAuth, backdated 30 seconds for clock skew, never outliving the intermediate;
//   - the SPIFFE Workload API (WorkloadAPI.Serve), one unix socket (0600, in a 0700 directory)
//     per workload, so the socket itself names the caller. It streams a fresh SVID at once and
//     another at half-life of the current one (SVID TTLs under one second are refused).
//     Sidecars consume it with go-spiffe's standard client (NewX509Source), so SPIRE's agent
//     can take its place without a code change;
//   - the edge certificate (LoadOrCreateEdgeCert): a separate self-signed "Bulwark edge CA" and
//     a 90-day server certificate for localhost, 127.0.0.1, ::1 and any configured hosts. It
//     never shares a root with the workload CA, so an SVID cannot serve as the edge
//     certificate, nor the edge certificate as an SVID;
//   - the mTLS configurations (ServerTLS, ClientTLS) and the SVID leaf checks that go-spiffe's
//     verifier skips (CheckLeaf, Authorizer). Every check runs in the TLS handshake and fails
//     closed.
package identity
