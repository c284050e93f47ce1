package identity

import (
	"context"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// SetAudit makes the Workload API record one svid event for every SVID it mints, before
// sending it: an SVID whose issuance cannot be audited is not handed out (the stream ends
// with Unavailable and the workload's client retries). Call it before Serve.
func (w *WorkloadAPI) SetAudit(rec audit.Recorder) { w.audit = rec }

// recordSVID records the issuance of svid: its SPIFFE ID, serial and expiry, never its key.
func (w *WorkloadAPI) recordSVID(ctx context.Context, svid *x509svid.SVID) error {
	if w.audit == nil {
		return nil
	}
	leaf := svid.Certificates[0]
	exp := leaf.NotAfter.UTC()
	return w.audit.Record(context.WithoutCancel(ctx), audit.Event{
		Kind: audit.KindSVID, Component: "control", Outcome: audit.Allow, Reason: "x509-svid issued",
		Resource: svid.ID.String(), Serial: leaf.SerialNumber.Text(16), Expires: &exp,
	})
}
