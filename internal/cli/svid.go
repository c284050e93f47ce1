package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

func newSVIDCmd() *cobra.Command {
	var sf stateFlags
	var service, outDir, trustDomain string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "svid --state-dir DIR --service NAME --out DIR",
		Short: "Mint an X.509-SVID for a service from the state dir's CA: writes cert.pem, key.pem (0600) and bundle.pem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, kc, err := sf.load(cmd)
			if err != nil {
				return err
			}
			stateDir := st.dir
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
			rk, err := openRootKeys(cmd.Context(), kc, st, false, io.Discard) // never a new key file: it could not open the CA
			if err != nil {
				return err
			}
			mk := rk.legacy
			km, err := openStateKeys(cmd.Context(), st, rk.master) // its events (keys of a migrated CA) are held for the admin audit
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ca, _, err := identity.LoadOrCreateCA(ctx, st.caDir(), mk, km, td, time.Now)
			if err != nil {
				return err
			}
			// Minting is audited like the Workload API's: an admin event before, the svid
			// event before the files are written, a failure event if it fails in between.
			heldKeyEvents := func() []envelope.Event { return takeHeldKeyEvents(km) }
			al, err := openAdminAudit(ctx, st, st.auditLogPath(), km, mk, heldKeyEvents)
			if err != nil {
				return err
			}
			defer al.Close()
			if err := al.Command(ctx, cmd, id.String(), ""); err != nil {
				return err
			}
			if err := al.KeyEvents(ctx, takeHeldKeyEvents(km)); err != nil {
				return err
			}
			svid, err := ca.IssueSVID(id, ttl)
			if err == nil {
				err = al.Record(ctx, svidEvent(svid, al.user))
			}
			if err == nil {
				err = identity.WriteSVIDFiles(outDir, svid, ca.Bundle())
			}
			if err != nil {
				return errors.Join(err, al.Failed(ctx, err))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s SVID (expires %s) to %s\n", id, svid.Certificates[0].NotAfter.Format(time.RFC3339), outDir)
			return nil
		},
	}
	sf.register(cmd, false, "state directory holding the CA")
	cmd.Flags().StringVar(&service, "service", "", "service name (the ID is spiffe://<trust-domain>/svc/<name>)")
	cmd.Flags().StringVar(&outDir, "out", "", "output directory (created 0700)")
	cmd.Flags().StringVar(&trustDomain, "trust-domain", "", "trust domain (default: from endpoints.json)")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "SVID lifetime")
	_ = cmd.MarkFlagRequired("service")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// svidEvent is the audit event of an SVID minted by `bulwark svid` for user: the same as
// the Workload API's (identity.WorkloadAPI), from component cli.
func svidEvent(svid *x509svid.SVID, user string) audit.Event {
	leaf := svid.Certificates[0]
	exp := leaf.NotAfter.UTC()
	return audit.Event{Kind: audit.KindSVID, Component: "cli", Outcome: audit.Allow, Reason: "x509-svid issued",
		User: user, Resource: svid.ID.String(), Serial: leaf.SerialNumber.Text(16), Expires: &exp}
}
