package identity

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

func loadEdge(t *testing.T, dir string, mk *keys.MasterKey, hosts []string, now time.Time) *tls.Certificate {
	t.Helper()
	cert, caPath, err := LoadOrCreateEdgeCert(context.Background(), dir, mk, testKM(t, dir, mk), hosts, func() time.Time { return now })
	if err != nil {
		t.Fatalf("LoadOrCreateEdgeCert: %v", err)
	}
	if want := filepath.Join(dir, "ca.pem"); caPath != want {
		t.Errorf("ca bundle path = %s, want %s", caPath, want)
	}
	return cert
}

func edgePool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("ca.pem holds no certificate")
	}
	return pool
}

func TestEdgeCertVerifies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "edge")
	cert := loadEdge(t, dir, newMasterKey(t), []string{"Bulwark.Example", "10.1.2.3", "[fd00::1]", "localhost"}, time.Now())
	pool := edgePool(t, dir)
	server := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	tests := []struct {
		serverName string
		roots      *x509.CertPool
		wantOK     bool
	}{ // a nil pool stands for a client that does not trust ca.pem
		{"127.0.0.1", pool, true},
		{"localhost", pool, true},
		{"::1", pool, true},
		{"bulwark.example", pool, true},
		{"10.1.2.3", pool, true},
		{"fd00::1", pool, true},
		{"evil.example", pool, false},
		{"untrusted.localhost", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.serverName, func(t *testing.T) {
			roots, name := tc.roots, tc.serverName
			if roots == nil {
				roots, name = x509.NewCertPool(), "localhost"
			}
			client := &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}
			err := handshake(t, server, client)
			if got := err == nil; got != tc.wantOK {
				t.Errorf("handshake as %q ok = %v (err: %v), want %v", tc.serverName, got, err, tc.wantOK)
			}
		})
	}
	leaf := cert.Leaf
	if len(leaf.URIs) != 0 || leaf.IsCA || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("edge leaf URIs %v, IsCA %v, EKU %v; want no URI, not a CA, serverAuth only", leaf.URIs, leaf.IsCA, leaf.ExtKeyUsage)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != edgeServerTTL+backdate {
		t.Errorf("edge leaf lifetime = %s, want %s", got, edgeServerTTL+backdate)
	}
	if got := fileMode(t, dir); got != 0o700 {
		t.Errorf("dir mode = %04o, want 0700", got)
	}
	for _, name := range []string{edgeCAKeySlot.wrapped, edgeServerKeySlot.wrapped} {
		path := filepath.Join(dir, name)
		if got := fileMode(t, path); got != 0o600 {
			t.Errorf("%s mode = %04o, want 0600", name, got)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if block, _ := pem.Decode(b); block != nil {
			t.Errorf("%s holds a PEM block, want wrapped bytes", name)
		}
		if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
			t.Errorf("%s parses as PKCS#8, want wrapped bytes", name)
		}
	}
}

// TestEdgeCertIsNotAnSVID: the edge certificate and the workload SVIDs never stand in for
// each other, in either direction.
func TestEdgeCertIsNotAnSVID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "edge")
	edge := loadEdge(t, dir, newMasterKey(t), nil, time.Now())
	ca, _, _ := newTestCA(t, nil)
	svid, err := ca.IssueSVID(svcID("accounts"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	edgeBundle, err := x509bundle.Load(testTD, filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	edgeAsSVID := &x509svid.SVID{ID: svcID("gateway"), Certificates: []*x509.Certificate{edge.Leaf}, PrivateKey: edge.PrivateKey.(crypto.Signer)}

	t.Run("edge cert fails SVID verification", func(t *testing.T) {
		for name, bundle := range map[string]*x509bundle.Bundle{"workload bundle": ca.Bundle(), "edge bundle": edgeBundle} {
			if _, _, err := x509svid.ParseAndVerify([][]byte{edge.Leaf.Raw}, bundle); err == nil {
				t.Errorf("ParseAndVerify(edge cert, %s) = nil error, want refused", name)
			}
		}
		if err := CheckLeaf(edge.Leaf); err == nil {
			t.Errorf("CheckLeaf(edge cert) = nil, want refused")
		}
	})
	t.Run("edge cert refused as an mTLS client", func(t *testing.T) {
		server, err := ca.IssueSVID(svcID("ledger"), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		err = handshake(t,
			ServerTLS(server, ca.Bundle(), tlsconfig.AuthorizeAny()),
			ClientTLS(edgeAsSVID, ca.Bundle(), svcID("ledger")))
		if err == nil {
			t.Errorf("handshake with the edge cert as client SVID succeeded, want refused")
		}
	})
	t.Run("SVID refused as the edge cert", func(t *testing.T) {
		if _, err := svid.Certificates[0].Verify(x509.VerifyOptions{Roots: edgePool(t, dir), DNSName: "localhost"}); err == nil {
			t.Errorf("SVID verifies against ca.pem, want refused")
		}
		server := &tls.Config{Certificates: []tls.Certificate{{
			Certificate: [][]byte{svid.Certificates[0].Raw, svid.Certificates[1].Raw}, PrivateKey: svid.PrivateKey,
		}}}
		client := &tls.Config{RootCAs: edgePool(t, dir), ServerName: "127.0.0.1"}
		if err := handshake(t, server, client); err == nil {
			t.Errorf("edge client accepted a server presenting an SVID, want refused")
		}
	})
}

func TestEdgeCertReload(t *testing.T) {
	t0 := time.Now()
	day := 24 * time.Hour
	tests := []struct {
		name       string
		hosts      []string
		after      time.Duration
		wantSame   bool // same server certificate as the first load
		wantSameCA bool
	}{
		{"unchanged", []string{"a.example"}, 0, true, true},
		{"hosts in another order and case", []string{"A.example", "127.0.0.1"}, day, true, true},
		{"hosts changed", []string{"b.example"}, 0, false, true},
		{"ten days later", []string{"a.example"}, 10 * day, true, true},
		{"two thirds of its life used", []string{"a.example"}, 61 * day, false, true},
		{"expired", []string{"a.example"}, 100 * day, false, true},
		{"edge CA near its end", []string{"a.example"}, 4 * 365 * day, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "edge")
			mk := newMasterKey(t)
			first := loadEdge(t, dir, mk, []string{"a.example"}, t0)
			firstCA := edgePool(t, dir)
			now := t0.Add(tc.after)
			got := loadEdge(t, dir, mk, tc.hosts, now)
			if same := got.Leaf.Equal(first.Leaf); same != tc.wantSame {
				t.Errorf("server certificate kept = %v, want %v", same, tc.wantSame)
			}
			_, err := got.Leaf.Verify(x509.VerifyOptions{Roots: firstCA, CurrentTime: now})
			if sameCA := err == nil; sameCA != tc.wantSameCA {
				t.Errorf("verifies with the first ca.pem = %v (err %v), want %v", sameCA, err, tc.wantSameCA)
			}
			if _, err := got.Leaf.Verify(x509.VerifyOptions{Roots: edgePool(t, dir), CurrentTime: now, DNSName: "localhost"}); err != nil {
				t.Errorf("server certificate does not verify with the current ca.pem: %v", err)
			}
		})
	}
}

func TestEdgeCertErrors(t *testing.T) {
	tests := []struct {
		name    string
		hosts   []string
		wrongKM bool // another state dir's key manager (another master key and keys)
		wantSub []string
	}{
		{"wrong key manager", nil, true, []string{edgeCAKeySlot.wrapped, "key manager does not open"}},
		{"host with a space", []string{"bad host"}, false, []string{`"bad host"`}},
		{"URL instead of host", []string{"https://x.example"}, false, []string{"https://x.example"}},
		{"host with a port", []string{"x.example:443"}, false, []string{"x.example:443"}},
		{"empty host", []string{""}, false, []string{`""`}},
		{"IP with a zone", []string{"fe80::1%eth0"}, false, []string{"zone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "edge")
			mk := newMasterKey(t)
			loadEdge(t, dir, mk, nil, time.Now())
			km := testKM(t, dir, mk)
			if tc.wrongKM {
				mk = newMasterKey(t)
				km = openTestKM(t, filepath.Join(t.TempDir(), "keys"), mk)
			}
			before := snapshotDir(t, dir)
			_, _, err := LoadOrCreateEdgeCert(context.Background(), dir, mk, km, tc.hosts, nil)
			if err == nil {
				t.Fatalf("LoadOrCreateEdgeCert = nil error, want one containing %q", tc.wantSub)
			}
			for _, s := range tc.wantSub {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error = %q, want it to contain %q", err, s)
				}
			}
			if got := errors.Is(err, envelope.ErrDecrypt); got != tc.wrongKM {
				t.Errorf("errors.Is(err, envelope.ErrDecrypt) = %v, want %v", got, tc.wrongKM)
			}
			if after := snapshotDir(t, dir); !maps.Equal(before, after) {
				t.Errorf("a refused load changed the edge dir: before %v, after %v", keysOf(before), keysOf(after))
			}
		})
	}
}
