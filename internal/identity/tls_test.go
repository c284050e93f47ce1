package identity

import (
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/testpki"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// TestHandshakeWithCASVIDs: SVIDs from the embedded CA pass ServerTLS and ClientTLS, each
// side authorizing exactly the other's ID.
func TestHandshakeWithCASVIDs(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	issue := func(name string) *x509svid.SVID {
		s, err := ca.IssueSVID(svcID(name), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	server, client := issue("accounts"), issue("payments")
	tests := []struct {
		name        string
		serverAllow spiffeid.ID
		clientWant  spiffeid.ID
		wantOK      bool
	}{
		{"both authorized", svcID("payments"), svcID("accounts"), true},
		{"server refuses the caller", svcID("ledger"), svcID("accounts"), false},
		{"client expects another server", svcID("payments"), svcID("ledger"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t,
				ServerTLS(server, ca.Bundle(), tlsconfig.AuthorizeID(tc.serverAllow)),
				ClientTLS(client, ca.Bundle(), tc.clientWant))
			if got := err == nil; got != tc.wantOK {
				t.Errorf("handshake ok = %v (err: %v), want %v", got, err, tc.wantOK)
			}
		})
	}
}

// TestHandshakeRefusesBadSVIDs: SVIDs that break the X.509-SVID rules, or come from a CA
// the peer does not trust, are refused in the handshake on either side.
func TestHandshakeRefusesBadSVIDs(t *testing.T) {
	tp := testpki.New(t, "bank.test")
	evil := testpki.New(t, "evil.test")
	ca, _, _ := newTestCA(t, nil) // same trust domain name, different root
	ourSVID, err := ca.IssueSVID(svcID("payments"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	goodServer := tp.SVID(t, "accounts")
	goodClient := tp.SVID(t, "payments")
	tests := []struct {
		name       string
		server     *x509svid.SVID
		client     *x509svid.SVID
		clientWant spiffeid.ID
		wantOK     bool
	}{
		{"good pair", goodServer, goodClient, svcID("accounts"), true},
		{"client leaf is a CA", goodServer, tp.SVID(t, "payments", testpki.AsCA()), svcID("accounts"), false},
		{"client leaf lacks digitalSignature", goodServer, tp.SVID(t, "payments", testpki.WithoutDigitalSignature()), svcID("accounts"), false},
		{"client leaf has two URI SANs", goodServer, tp.SVID(t, "payments", testpki.ExtraURI("spiffe://bank.test/svc/ledger")), svcID("accounts"), false},
		{"client from another trust domain's CA", goodServer, evil.SVIDFor(t, svcID("payments")), svcID("accounts"), false},
		{"client in another trust domain", goodServer, evil.SVID(t, "payments"), svcID("accounts"), false},
		{"client from an untrusted root of the same name", goodServer, ourSVID, svcID("accounts"), false},
		{"client expects another server ID", goodServer, goodClient, svcID("ledger"), false},
		{"server leaf is a CA", tp.SVID(t, "accounts", testpki.AsCA()), goodClient, svcID("accounts"), false},
		{"server leaf lacks digitalSignature", tp.SVID(t, "accounts", testpki.WithoutDigitalSignature()), goodClient, svcID("accounts"), false},
		{"server leaf has two URI SANs", tp.SVID(t, "accounts", testpki.ExtraURI("spiffe://bank.test/svc/x")), goodClient, svcID("accounts"), false},
		{"server from another trust domain's CA", evil.SVIDFor(t, svcID("accounts")), goodClient, svcID("accounts"), false},
	}
	bundles := x509bundle.NewSet(tp.Bundle(), evil.Bundle()) // the evil domain's own IDs chain; policy must refuse them
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t,
				ServerTLS(tc.server, bundles, tlsconfig.AuthorizeMemberOf(testTD)),
				ClientTLS(tc.client, bundles, tc.clientWant))
			if got := err == nil; got != tc.wantOK {
				t.Errorf("handshake ok = %v (err: %v), want %v", got, err, tc.wantOK)
			}
		})
	}
}
