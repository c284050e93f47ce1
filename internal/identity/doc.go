// Package identity gives every workload its SPIFFE identity and checks the identities of others.
//
// It holds:
//
//   - the embedded workload CA (LoadOrCreateCA): a self-signed ECDSA P-256 root valid for one
//     year and an intermediate signed by it, valid for 90 days and renewed when less than a
//     third of its life remains (on load, and on issuance in a long-running process). Private
//     keys are wrapped by the key manager (service "control", purposes "ca-root" and
//     "ca-intermediate"; keystore.go migrates the master-key-sealed files of earlier
//     versions) and written 0600 in a 0700 directory; certificates are PEM. The trust bundle is the root
//     alone, so renewing the intermediate changes nothing for peers. An intermediate whose key
//     or certificate is missing, or whose key is another's (a renewal cut short between its
//     two writes), is reissued from the root on load;
//   - root rotation is manual for now: nothing renews the root. NewWorkloadAPI logs a warning
//     once it has less than 30 days left (RootExpiryWarning; CA.RootNotAfter gives the date),
//     and an expired root stops the CA from loading. To rotate, stop Bulwark, move the CA
//     directory aside and start again: a new root is created and every workload receives the
//     new bundle, and the SVIDs chained to the old root stop verifying as they are replaced;
//   - X.509-SVID issuance (CA.IssueSVID) following the SPIFFE X.509-SVID specification: a fresh
//     P-256 key, exactly one URI SAN, not a CA, digitalSignature only, serverAuth and
//     clientAuth, backdated 30 seconds for clock skew, never outliving the intermediate;
//   - the SPIFFE Workload API (WorkloadAPI.Serve), one unix socket (0600) per workload, each in
//     its own 0700 directory (<state>/run/workload/<name>/api.sock), so the socket itself names
//     the caller and a deployment can expose to each workload only its own directory. Anyone
//     who can open a socket gets its SVID; AllowUIDs also checks the caller's UID
//     (SO_PEERCRED, Linux). It streams a fresh SVID at once and another at half-life of the
//     current one (SVID TTLs under one second are refused).
//     Sidecars consume it with go-spiffe's standard client (NewX509Source), so SPIRE's agent
//     can take its place without a code change;
//   - the edge certificate (LoadOrCreateEdgeCert): a separate self-signed "Bulwark edge CA" and
//     a 90-day server certificate for localhost, 127.0.0.1, ::1 and any configured hosts. It
//     never shares a root with the workload CA, so an SVID cannot serve as the edge
//     certificate, nor the edge certificate as an SVID. Its keys are wrapped by the key
//     manager too (service "gateway", purposes "edge-ca" and "edge-server"; keystore.go
//     migrates the sealed ca.key and server.key of earlier versions, keeping the edge CA);
//   - the mTLS configurations (ServerTLS, ClientTLS) and the SVID leaf checks that go-spiffe's
//     verifier skips (CheckLeaf, Authorizer). Every check runs in the TLS handshake and fails
//     closed.
package identity
