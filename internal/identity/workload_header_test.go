package identity

import (
	"context"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestWorkloadAPIProtocol drives the server with the raw generated client, to check what the
// standard client never shows: the security header is enforced on every method, and the
// JWT methods are not offered.
func TestWorkloadAPIProtocol(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	socket := shortTempDir(t) + "/wl.sock"
	serveWorkload(t, NewWorkloadAPI(ca, time.Minute, nil), socket, svcID("accounts"))
	// WaitForReady: Serve runs in the background and may not be listening yet.
	cc, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	wl := workload.NewSpiffeWorkloadAPIClient(cc)

	calls := map[string]func(ctx context.Context) error{
		"FetchX509SVID": func(ctx context.Context) error {
			s, err := wl.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
			if err != nil {
				return err
			}
			resp, err := s.Recv()
			if err != nil {
				return err
			}
			return checkX509Response(t, ca, resp)
		},
		"FetchX509Bundles": func(ctx context.Context) error {
			s, err := wl.FetchX509Bundles(ctx, &workload.X509BundlesRequest{})
			if err != nil {
				return err
			}
			resp, err := s.Recv()
			if err != nil {
				return err
			}
			if got := resp.Bundles[testTD.IDString()]; string(got) != string(ca.root.Raw) {
				t.Errorf("FetchX509Bundles bundle for %s = %d bytes, want the root's DER", testTD.IDString(), len(got))
			}
			return nil
		},
		"FetchJWTSVID": func(ctx context.Context) error {
			_, err := wl.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"x"}})
			return err
		},
		"FetchJWTBundles": func(ctx context.Context) error {
			s, err := wl.FetchJWTBundles(ctx, &workload.JWTBundlesRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		},
		"ValidateJWTSVID": func(ctx context.Context) error {
			_, err := wl.ValidateJWTSVID(ctx, &workload.ValidateJWTSVIDRequest{Audience: "x", Svid: "y"})
			return err
		},
	}
	tests := []struct {
		method string
		header []string // nil: no header at all
		want   codes.Code
	}{
		{"FetchX509SVID", nil, codes.InvalidArgument},
		{"FetchX509SVID", []string{"workload.spiffe.io", "false"}, codes.InvalidArgument},
		{"FetchX509SVID", []string{"workload.spiffe.io", "true", "workload.spiffe.io", "true"}, codes.InvalidArgument},
		{"FetchX509SVID", []string{"workload.spiffe.io", "true"}, codes.OK},
		{"FetchX509Bundles", nil, codes.InvalidArgument},
		{"FetchX509Bundles", []string{"workload.spiffe.io", "true"}, codes.OK},
		{"FetchJWTSVID", nil, codes.InvalidArgument},
		{"FetchJWTSVID", []string{"workload.spiffe.io", "true"}, codes.Unimplemented},
		{"FetchJWTBundles", nil, codes.InvalidArgument},
		{"FetchJWTBundles", []string{"workload.spiffe.io", "true"}, codes.Unimplemented},
		{"ValidateJWTSVID", nil, codes.InvalidArgument},
		{"ValidateJWTSVID", []string{"workload.spiffe.io", "true"}, codes.Unimplemented},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s header=%q", tc.method, tc.header), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard
			defer cancel()
			if tc.header != nil {
				ctx = metadata.AppendToOutgoingContext(ctx, tc.header...)
			}
			err := calls[tc.method](ctx)
			if got := status.Code(err); got != tc.want {
				t.Errorf("%s with header %v: code %s (err %v), want %s", tc.method, tc.header, got, err, tc.want)
			}
		})
	}
}

func checkX509Response(t *testing.T, ca *CA, resp *workload.X509SVIDResponse) error {
	t.Helper()
	if len(resp.Svids) != 1 {
		t.Fatalf("FetchX509SVID sent %d SVIDs, want 1", len(resp.Svids))
	}
	got := resp.Svids[0]
	if got.SpiffeId != svcID("accounts").String() {
		t.Errorf("spiffe_id = %q, want %q", got.SpiffeId, svcID("accounts"))
	}
	svid, err := x509svid.ParseRaw(got.X509Svid, got.X509SvidKey)
	if err != nil {
		t.Fatalf("ParseRaw: %v", err)
	}
	if len(svid.Certificates) != 2 {
		t.Errorf("chain has %d certs, want leaf and intermediate", len(svid.Certificates))
	}
	roots, err := x509.ParseCertificates(got.Bundle)
	if err != nil || len(roots) != 1 || !roots[0].Equal(ca.root) {
		t.Errorf("bundle = %d certs (err %v), want the root alone", len(roots), err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, ca.Bundle()); err != nil {
		t.Errorf("served SVID does not verify: %v", err)
	}
	return nil
}
