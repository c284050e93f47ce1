package identity

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

func TestIssueSVID(t *testing.T) {
	now := time.Now()
	ca, _, _ := newTestCA(t, func() time.Time { return now })
	tests := []struct {
		name         string
		id           spiffeid.ID
		ttl          time.Duration
		wantNotAfter time.Time
	}{
		{"one hour", svcID("accounts"), time.Hour, now.Add(time.Hour)},
		{"three seconds", svcID("payments"), 3 * time.Second, now.Add(3 * time.Second)},
		{"capped at the intermediate", svcID("ledger"), 1000 * 24 * time.Hour, ca.inter.NotAfter},
		{"non-service path", spiffeid.RequireFromPath(testTD, "/ns/prod/sa/x"), time.Minute, now.Add(time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svid, err := ca.IssueSVID(tc.id, tc.ttl)
			if err != nil {
				t.Fatalf("IssueSVID: %v", err)
			}
			raw := make([][]byte, len(svid.Certificates))
			for i, c := range svid.Certificates {
				raw[i] = c.Raw
			}
			gotID, chains, err := x509svid.ParseAndVerify(raw, ca.Bundle(), x509svid.WithTime(now))
			if err != nil {
				t.Fatalf("ParseAndVerify: %v", err)
			}
			if gotID != tc.id {
				t.Errorf("verified ID = %s, want %s", gotID, tc.id)
			}
			if len(chains) == 0 || len(chains[0]) != 3 {
				t.Errorf("verified chain = %v, want leaf, intermediate, root", chains)
			}
			// Parse is the strict go-spiffe check of the leaf and key.
			certPEM, keyPEM, err := svid.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x509svid.Parse(certPEM, keyPEM); err != nil {
				t.Errorf("x509svid.Parse: %v", err)
			}
			leaf := svid.Certificates[0]
			if err := CheckLeaf(leaf); err != nil {
				t.Errorf("CheckLeaf: %v", err)
			}
			if got := len(leaf.URIs); got != 1 || leaf.URIs[0].String() != tc.id.String() {
				t.Errorf("URI SANs = %v, want exactly [%s]", leaf.URIs, tc.id)
			}
			if !leaf.BasicConstraintsValid || leaf.IsCA {
				t.Errorf("BasicConstraintsValid, IsCA = %v, %v; want true, false", leaf.BasicConstraintsValid, leaf.IsCA)
			}
			if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("KeyUsage = %v, want digitalSignature only", leaf.KeyUsage)
			}
			wantEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
			if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != wantEKU[0] || leaf.ExtKeyUsage[1] != wantEKU[1] {
				t.Errorf("ExtKeyUsage = %v, want %v", leaf.ExtKeyUsage, wantEKU)
			}
			if got, want := leaf.NotBefore, now.Add(-30*time.Second).Truncate(time.Second); !got.Equal(want) {
				t.Errorf("NotBefore = %s, want %s", got, want)
			}
			if got, want := leaf.NotAfter, tc.wantNotAfter.Truncate(time.Second); !got.Equal(want) {
				t.Errorf("NotAfter = %s, want %s", got, want)
			}
			if got := leaf.SerialNumber.BitLen(); got < 64 || got > 128 {
				t.Errorf("serial has %d bits, want a random 128-bit serial", got)
			}
			if _, _, err := x509svid.ParseAndVerify(raw, ca.Bundle(), x509svid.WithTime(tc.wantNotAfter.Add(time.Second))); err == nil {
				t.Errorf("ParseAndVerify after NotAfter = nil error, want expired")
			}
		})
	}
}

func TestIssueSVIDRefuses(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	tests := []struct {
		name string
		id   spiffeid.ID
		ttl  time.Duration
	}{
		{"other trust domain", spiffeid.RequireFromString("spiffe://other.test/svc/accounts"), time.Hour},
		{"trust domain ID", testTD.ID(), time.Hour},
		{"zero ID", spiffeid.ID{}, time.Hour},
		{"zero ttl", svcID("accounts"), 0},
		{"negative ttl", svcID("accounts"), -time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svid, err := ca.IssueSVID(tc.id, tc.ttl)
			if err == nil {
				t.Errorf("IssueSVID(%q, %s) = %v, nil; want an error", tc.id, tc.ttl, svid.ID)
			}
		})
	}
}

// TestIssueSVIDRenewsIntermediate runs a CA past two thirds of its intermediate's life
// without reloading it: issuance must renew the intermediate, under concurrent use.
func TestIssueSVIDRenewsIntermediate(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ca, dir, _ := newTestCA(t, clock)
	first, err := ca.IssueSVID(svcID("accounts"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(70 * 24 * time.Hour)
	mu.Unlock()

	var wg sync.WaitGroup
	svids := make([]*x509svid.SVID, 8)
	errs := make([]error, len(svids))
	for i := range svids {
		wg.Go(func() { svids[i], errs[i] = ca.IssueSVID(svcID("accounts"), time.Hour) })
	}
	wg.Wait()
	for i, svid := range svids {
		if errs[i] != nil {
			t.Fatalf("IssueSVID: %v", errs[i])
		}
		inter := svid.Certificates[1]
		if inter.Equal(first.Certificates[1]) {
			t.Errorf("svid %d chains to the old intermediate, want a renewed one", i)
		}
		if _, _, err := x509svid.Verify(svid.Certificates, ca.Bundle(), x509svid.WithTime(clock())); err != nil {
			t.Errorf("svid %d: Verify: %v", i, err)
		}
	}
	onDisk, err := readCert(filepath.Join(dir, interCertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !onDisk.Equal(svids[0].Certificates[1]) {
		t.Errorf("intermediate on disk is not the renewed one")
	}
}

func TestWriteSVIDFiles(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	svid, err := ca.IssueSVID(svcID("accounts"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "svid")
	if err := WriteSVIDFiles(dir, svid, ca.Bundle()); err != nil {
		t.Fatalf("WriteSVIDFiles: %v", err)
	}
	if got := fileMode(t, dir); got != 0o700 {
		t.Errorf("dir mode = %04o, want 0700", got)
	}
	if got := fileMode(t, filepath.Join(dir, "key.pem")); got != 0o600 {
		t.Errorf("key.pem mode = %04o, want 0600", got)
	}
	loaded, err := x509svid.Load(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatalf("x509svid.Load: %v", err)
	}
	if loaded.ID != svid.ID || len(loaded.Certificates) != 2 {
		t.Errorf("loaded %s with %d certs, want %s with 2 (leaf, intermediate)", loaded.ID, len(loaded.Certificates), svid.ID)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(keyPEM[:27]), "-----BEGIN PRIVATE KEY-----"; got != want {
		t.Errorf("key.pem starts %q, want %q (PKCS#8)", got, want)
	}
	bundle, err := x509bundle.Load(testTD, filepath.Join(dir, "bundle.pem"))
	if err != nil {
		t.Fatalf("x509bundle.Load: %v", err)
	}
	if _, _, err := x509svid.Verify(loaded.Certificates, bundle); err != nil {
		t.Errorf("written svid does not verify with written bundle: %v", err)
	}
}
