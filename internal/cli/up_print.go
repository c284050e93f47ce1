package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// printStarted tells the operator what runs and how to try it. It never prints a secret.
func printStarted(out io.Writer, s *stack, ep Endpoints) {
	rel := func(p string) string {
		if wd, err := os.Getwd(); err == nil {
			if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
				return r
			}
		}
		return p
	}
	fmt.Fprintf(out, "\nBulwark is up — trust domain %s\n", ep.TrustDomain)
	fmt.Fprintf(out, "  gateway    %s   (server certificate: verify with %s)\n", ep.Gateway, rel(ep.CABundle))
	fmt.Fprintf(out, "  issuer     %s\n", ep.Issuer)
	if ep.Control != nil {
		fmt.Fprintf(out, "  control    %s   (mTLS, %s)\n", ep.Control.MTLSAddr, ep.Control.SPIFFEID)
	}
	names := make([]string, 0, len(ep.Services))
	for n := range ep.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := ep.Services[n]
		fmt.Fprintf(out, "  sidecar    %-14s %-16s (mTLS, %s)\n", n, e.MTLSAddr, e.SPIFFEID)
	}
	roles := make([]string, 0, len(ep.Metrics))
	for r := range ep.Metrics {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		fmt.Fprintf(out, "  metrics    %-22s %s   (plaintext, loopback only)\n", r, ep.Metrics[r])
	}
	fmt.Fprintf(out, "  audit log  %s\n", rel(ep.AuditLog))
	fmt.Fprintf(out, "  endpoints  %s\n", rel(s.st.endpointsPath()))
	if ep.DevCredentials != "" {
		fmt.Fprintf(out, "  demo users passwords in %s (0600)\n", rel(ep.DevCredentials))
	}
	sd := rel(s.st.dir)
	fmt.Fprintf(out, "\nTry it (another terminal):\n")
	fmt.Fprintf(out, "  TOKEN=$(go run ./cmd/bulwark token --state-dir %s --user alice)\n", sd)
	fmt.Fprintf(out, "  curl --cacert %s -H \"Authorization: Bearer $TOKEN\" %s/api/accounts\n", rel(ep.CABundle), ep.Gateway)
	fmt.Fprintf(out, "\nPress Ctrl-C to stop.\n")
}
