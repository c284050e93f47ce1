package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/identity"
)

func newSVIDCmd() *cobra.Command {
	var stateDir, service, outDir, trustDomain string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "svid --state-dir DIR --service NAME --out DIR",
		Short: "Mint an X.509-SVID for a service from the state dir's CA: writes cert.pem, key.pem (0600) and bundle.pem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := newState(stateDir)
			if err != nil {
				return err
			}
			if _, err := os.Stat(st.caDir()); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no CA in %s: run `bulwark up --state-dir %s` first", stateDir, stateDir)
			}
			if trustDomain == "" {
				ep, err := readEndpoints(stateDir)
				if err != nil {
					return fmt.Errorf("trust domain: pass --trust-domain or run `bulwark up` first: %w", err)
				}
				trustDomain = ep.TrustDomain
			}
			td, err := spiffeid.TrustDomainFromString(trustDomain)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--trust-domain: %w", err)}
			}
			id, err := identity.ServiceID(td, service)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--service: %w", err)}
			}
			mk, err := openMasterKey(st, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			km, _, err := openStateKeys(cmd.Context(), st, mk)
			if err != nil {
				return err
			}
			ca, _, err := identity.LoadOrCreateCA(cmd.Context(), st.caDir(), mk, km, td, time.Now)
			if err != nil {
				return err
			}
			svid, err := ca.IssueSVID(id, ttl)
			if err != nil {
				return err
			}
			if err := identity.WriteSVIDFiles(outDir, svid, ca.Bundle()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s SVID (expires %s) to %s\n", id, svid.Certificates[0].NotAfter.Format(time.RFC3339), outDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "./.bulwark", "state directory holding the CA")
	cmd.Flags().StringVar(&service, "service", "", "service name (the ID is spiffe://<trust-domain>/svc/<name>)")
	cmd.Flags().StringVar(&outDir, "out", "", "output directory (created 0700)")
	cmd.Flags().StringVar(&trustDomain, "trust-domain", "", "trust domain (default: from endpoints.json)")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "SVID lifetime")
	_ = cmd.MarkFlagRequired("service")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
