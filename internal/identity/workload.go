package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/unixsock"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
)

// MinWorkloadSVIDTTL is the shortest SVID lifetime the Workload API accepts.
const MinWorkloadSVIDTTL = time.Second

// minRefresh keeps a stream from spinning should an SVID ever come back nearly expired.
const minRefresh = 500 * time.Millisecond

// WorkloadAPI serves the SPIFFE Workload API from the embedded CA. Attestation is by socket:
// each workload gets its own unix socket, reachable only by its owner, and every SVID sent
// on that socket is for the ID the socket was opened for.
type WorkloadAPI struct {
	ca    *CA
	ttl   time.Duration
	log   *slog.Logger
	audit audit.Recorder // nil: SVIDs are not audited (tests, tools)
}

// NewWorkloadAPI returns a Workload API that issues SVIDs from ca, each valid for ttl (at
// least MinWorkloadSVIDTTL; Serve refuses less). log may be nil. It logs a warning when the
// CA's root has less than RootExpiryWarning left, since root rotation is manual.
func NewWorkloadAPI(ca *CA, ttl time.Duration, log *slog.Logger) *WorkloadAPI {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if ca != nil {
		ca.warnRootExpiry(log)
	}
	return &WorkloadAPI{ca: ca, ttl: ttl, log: log}
}

// Serve serves the Workload API for the workload id on a unix socket at socketPath until ctx
// is done, and returns nil on that clean stop. The parent directory is created 0700 when
// missing (an existing one must not be writable by group or others), a stale socket left by
// an earlier run is removed, and the socket is made 0600.
//
// Whoever can open the socket gets the workload's SVID, so give each workload its own
// directory (Bulwark uses <state>/run/workload/<name>/api.sock) and expose to a workload
// only its own directory. AllowUIDs adds a check of the caller's UID.
func (w *WorkloadAPI) Serve(ctx context.Context, socketPath string, id spiffeid.ID, opts ...ServeOption) error {
	var o serveOptions
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case w.ca == nil:
		return errors.New("workload api: no CA")
	case w.ttl < MinWorkloadSVIDTTL:
		return fmt.Errorf("workload api: svid ttl %s is below the minimum %s", w.ttl, MinWorkloadSVIDTTL)
	case !id.MemberOf(w.ca.TrustDomain()) || id.Path() == "":
		return fmt.Errorf("workload api: %q is not a workload ID in trust domain %q", id, w.ca.TrustDomain())
	}
	path, err := filepath.Abs(socketPath)
	if err != nil {
		return fmt.Errorf("workload api: %w", err)
	}
	lis, err := unixsock.Listen(path)
	if err != nil {
		return fmt.Errorf("workload api: %w", err)
	}
	checked, err := newPeerUIDListener(lis, o.uids, path, w.log)
	if err != nil {
		lis.Close()
		return fmt.Errorf("workload api: %w", err)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := checkSecurityHeader(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := checkSecurityHeader(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	)
	workload.RegisterSpiffeWorkloadAPIServer(srv, &workloadServer{api: w, id: id})

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(checked) }()
	w.log.Info("workload api serving", "socket", path, "spiffe_id", id.String(), "svid_ttl", w.ttl.String(),
		"allowed_uids", o.uids)
	select {
	case <-ctx.Done():
		// Stop, not GracefulStop: FetchX509SVID streams last as long as their clients.
		srv.Stop()
		<-errc
		return nil
	case err := <-errc:
		return fmt.Errorf("workload api %s: %w", path, err)
	}
}

// NewX509Source connects to the Workload API socket at socketPath (Bulwark's or a SPIRE
// agent's) with go-spiffe's standard client, and returns the source that follows its
// rotations. It blocks until the first SVID arrives or ctx is done. Close the source when
// done with it.
func NewX509Source(ctx context.Context, socketPath string) (*workloadapi.X509Source, error) {
	path, err := filepath.Abs(socketPath)
	if err != nil {
		return nil, fmt.Errorf("x509 source: %w", err)
	}
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+path)))
	if err != nil {
		return nil, fmt.Errorf("x509 source %s: %w", path, err)
	}
	return src, nil
}
