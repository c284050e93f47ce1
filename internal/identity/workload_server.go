package identity

import (
	"context"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// workloadServer is the Workload API for one socket, and so for one workload ID. The JWT
// and WIT methods come from the embedded Unimplemented server and return codes.Unimplemented.
type workloadServer struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	api *WorkloadAPI
	id  spiffeid.ID
}

var _ workload.SpiffeWorkloadAPIServer = (*workloadServer)(nil)

// FetchX509SVID sends a fresh SVID at once, then a new one at the half-life of each, until
// the client goes away or the server stops.
func (s *workloadServer) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	ctx := stream.Context()
	for {
		issued := s.api.ca.now()
		svid, err := s.api.ca.IssueSVID(s.id, s.api.ttl)
		if err != nil {
			s.api.log.Error("workload api: issue svid", "spiffe_id", s.id.String(), "error", err.Error())
			return status.Error(codes.Unavailable, "could not issue an X.509-SVID")
		}
		if err := s.api.recordSVID(ctx, svid); err != nil {
			s.api.log.Error("workload api: svid not audited; not sent", "spiffe_id", s.id.String(), "error", err.Error())
			return status.Error(codes.Unavailable, "could not audit the X.509-SVID")
		}
		resp, err := s.x509Response(svid)
		if err != nil {
			s.api.log.Error("workload api: encode svid", "spiffe_id", s.id.String(), "error", err.Error())
			return status.Error(codes.Internal, "could not encode the X.509-SVID")
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		leaf := svid.Certificates[0]
		s.api.log.Debug("workload api: sent svid", "spiffe_id", s.id.String(),
			"serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter)

		// Half-life from the issuing clock, not from NotBefore: certificates keep whole
		// seconds only, and the truncation would shorten the first half by up to a second.
		refresh := issued.Add(leaf.NotAfter.Sub(issued) / 2).Sub(s.api.ca.now())
		if refresh < minRefresh {
			refresh = minRefresh
		}
		t := time.NewTimer(refresh)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// FetchX509Bundles sends the trust bundle, then holds the stream open: the root does not
// change while the process runs.
func (s *workloadServer) FetchX509Bundles(_ *workload.X509BundlesRequest, stream grpc.ServerStreamingServer[workload.X509BundlesResponse]) error {
	td := s.api.ca.TrustDomain()
	if err := stream.Send(&workload.X509BundlesResponse{
		Bundles: map[string][]byte{td.IDString(): s.api.ca.root.Raw},
	}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func (s *workloadServer) x509Response(svid *x509svid.SVID) (*workload.X509SVIDResponse, error) {
	certs, key, err := svid.MarshalRaw()
	if err != nil {
		return nil, err
	}
	return &workload.X509SVIDResponse{
		Svids: []*workload.X509SVID{{
			SpiffeId:    s.id.String(),
			X509Svid:    certs,
			X509SvidKey: key,
			Bundle:      s.api.ca.root.Raw,
		}},
	}, nil
}

// checkSecurityHeader enforces the Workload API specification: every call carries the
// metadata "workload.spiffe.io: true", which a browser or an SSRF'd HTTP client cannot send.
func checkSecurityHeader(ctx context.Context) error {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	if v := md.Get("workload.spiffe.io"); len(v) != 1 || v[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	return nil
}
