package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
)

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestLoadOrCreateCAReissuesLostIntermediate: a missing or mismatched intermediate pair is
// reissued from the root on load, and the new pair on disk loads again unchanged.
func TestLoadOrCreateCAReissuesLostIntermediate(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, mk *keys.MasterKey)
	}{
		{"fresh key over the intermediate key", func(t *testing.T, dir string, mk *keys.MasterKey) {
			overwriteWrappedKey(t, dir, mk, interKeySlot)
		}},
		{"intermediate key missing", func(t *testing.T, dir string, _ *keys.MasterKey) {
			removeFile(t, filepath.Join(dir, interKeySlot.wrapped))
		}},
		{"intermediate.pem missing", func(t *testing.T, dir string, _ *keys.MasterKey) {
			removeFile(t, filepath.Join(dir, interCertFile))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first, dir, mk := newTestCA(t, nil)
			tc.damage(t, dir, mk)

			ca, created, err := loadTestCA(t, dir, mk, testTD, nil)
			if err != nil {
				t.Fatalf("LoadOrCreateCA: %v", err)
			}
			if created {
				t.Error("created = true, want false: the root is kept")
			}
			if !ca.root.Equal(first.root) {
				t.Error("root changed, want the same root")
			}
			if ca.inter.SerialNumber.Cmp(first.inter.SerialNumber) == 0 {
				t.Error("intermediate kept, want a new one")
			}
			svid, err := ca.IssueSVID(svcID("accounts"), time.Hour)
			if err != nil {
				t.Fatalf("IssueSVID: %v", err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(first.root)
			inters := x509.NewCertPool()
			inters.AddCert(svid.Certificates[1])
			if _, err := svid.Certificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters}); err != nil {
				t.Errorf("SVID does not verify with the old bundle: %v", err)
			}

			again, _, err := loadTestCA(t, dir, mk, testTD, nil)
			if err != nil {
				t.Fatalf("second load: %v", err)
			}
			if again.inter.SerialNumber.Cmp(ca.inter.SerialNumber) != 0 {
				t.Error("second load replaced the reissued intermediate, want it kept")
			}
		})
	}
}

// TestEdgeCertReissuesLostPair: a missing or mismatched server key is reissued under the same
// edge CA; a lost edge CA key makes a new edge CA.
func TestEdgeCertReissuesLostPair(t *testing.T) {
	tests := []struct {
		name       string
		damage     func(t *testing.T, dir string, mk *keys.MasterKey)
		wantSameCA bool
	}{
		{"fresh key over the server key", func(t *testing.T, dir string, mk *keys.MasterKey) {
			overwriteWrappedKey(t, dir, mk, edgeServerKeySlot)
		}, true},
		{"server key missing", func(t *testing.T, dir string, _ *keys.MasterKey) {
			removeFile(t, filepath.Join(dir, edgeServerKeySlot.wrapped))
		}, true},
		{"fresh key over the edge CA key", func(t *testing.T, dir string, mk *keys.MasterKey) {
			overwriteWrappedKey(t, dir, mk, edgeCAKeySlot)
		}, false},
		{"edge CA key missing", func(t *testing.T, dir string, _ *keys.MasterKey) {
			removeFile(t, filepath.Join(dir, edgeCAKeySlot.wrapped))
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "edge")
			mk := newMasterKey(t)
			now := time.Now()
			first := loadEdge(t, dir, mk, nil, now)
			firstCA := edgePool(t, dir)
			tc.damage(t, dir, mk)

			got := loadEdge(t, dir, mk, nil, now)
			if got.Leaf.Equal(first.Leaf) {
				t.Error("server certificate kept, want a new one")
			}
			_, err := got.Leaf.Verify(x509.VerifyOptions{Roots: firstCA, CurrentTime: now, DNSName: "localhost"})
			if sameCA := err == nil; sameCA != tc.wantSameCA {
				t.Errorf("verifies with the first ca.pem = %v (err %v), want %v", sameCA, err, tc.wantSameCA)
			}
			if _, err := got.Leaf.Verify(x509.VerifyOptions{Roots: edgePool(t, dir), CurrentTime: now, DNSName: "localhost"}); err != nil {
				t.Errorf("server certificate does not verify with the current ca.pem: %v", err)
			}
			if key, ok := got.PrivateKey.(*ecdsa.PrivateKey); !ok || !key.PublicKey.Equal(got.Leaf.PublicKey) {
				t.Error("private key does not match the reissued certificate")
			}
			if again := loadEdge(t, dir, mk, nil, now); !again.Leaf.Equal(got.Leaf) {
				t.Error("second load replaced the reissued certificate, want it kept")
			}
		})
	}
}

// TestNewWorkloadAPIWarnsOfRootExpiry: the root is not rotated, so its coming end is logged.
func TestNewWorkloadAPIWarnsOfRootExpiry(t *testing.T) {
	t0 := time.Now()
	_, dir, mk := newTestCA(t, func() time.Time { return t0 })
	tests := []struct {
		name     string
		after    time.Duration
		wantWarn bool
	}{
		{"fresh root", 10 * 24 * time.Hour, false},
		{"31 days left", rootTTL - 31*24*time.Hour, false},
		{"29 days left", rootTTL - 29*24*time.Hour, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.after)
			ca, _, err := loadTestCA(t, dir, mk, testTD, func() time.Time { return now })
			if err != nil {
				t.Fatalf("LoadOrCreateCA: %v", err)
			}
			if got, want := ca.RootNotAfter(), ca.root.NotAfter; !got.Equal(want) {
				t.Errorf("RootNotAfter = %v, want %v", got, want)
			}
			var buf bytes.Buffer
			NewWorkloadAPI(ca, time.Minute, slog.New(slog.NewTextHandler(&buf, nil)))
			warned := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "root expires soon")
			if warned != tc.wantWarn {
				t.Errorf("warned = %v, want %v; log: %q", warned, tc.wantWarn, buf.String())
			}
		})
	}
}
