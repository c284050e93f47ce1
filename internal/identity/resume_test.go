package identity

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/bulwark-security/bulwark/internal/testpki"
)

// TestServerTLSNeverResumes: every mesh handshake verifies the peer's SVID; a resumed
// session would skip that check.
func TestServerTLSNeverResumes(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	server, client := ca.SVID(t, "ledger"), ca.SVID(t, "payments")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLS(server, ca.Bundle(), tlsconfig.AuthorizeMemberOf(ca.TD)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 1)
				_, _ = c.Read(buf)
				_, _ = c.Write(buf)
			}(c)
		}
	}()
	cfg := ClientTLS(client, ca.Bundle(), server.ID)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i := range 2 {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		// A round trip makes the client read the server's session ticket, if any.
		if _, err := c.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		if c.ConnectionState().DidResume {
			t.Errorf("handshake %d resumed a session: the SVID was not verified again", i+1)
		}
		c.Close()
	}
}
