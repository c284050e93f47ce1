package identity

import (
	"context"
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
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestLoadOrCreateCAFiles(t *testing.T) {
	_, dir, _ := newTestCA(t, nil)
	if got := fileMode(t, dir); got != 0o700 {
		t.Errorf("dir mode = %04o, want 0700", got)
	}
	for _, name := range []string{rootKeySlot.wrapped, interKeySlot.wrapped} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if got := fileMode(t, path); got != 0o600 {
				t.Errorf("mode = %04o, want 0600", got)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if block, _ := pem.Decode(b); block != nil {
				t.Errorf("file holds a PEM block %q, want sealed bytes", block.Type)
			}
			if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
				t.Errorf("file parses as a PKCS#8 key, want sealed bytes")
			}
			if _, err := x509.ParseECPrivateKey(b); err == nil {
				t.Errorf("file parses as an EC key, want sealed bytes")
			}
		})
	}
	for _, name := range []string{rootCertFile, interCertFile} {
		if _, err := readCert(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v, want a PEM certificate", name, err)
		}
	}
}

func TestLoadOrCreateCAReload(t *testing.T) {
	t0 := time.Now()
	ca, dir, mk := newTestCA(t, func() time.Time { return t0 })
	tests := []struct {
		name       string
		after      time.Duration
		wantRenew  bool
		wantSerial bool // same intermediate serial as the first load
	}{
		{"fresh intermediate kept", 10 * 24 * time.Hour, false, true},
		{"two thirds used is renewed", 61 * 24 * time.Hour, true, false},
		{"expired intermediate is renewed", 100 * 24 * time.Hour, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.after)
			got, created, err := loadTestCA(t, dir, mk, testTD, func() time.Time { return now })
			if err != nil {
				t.Fatalf("LoadOrCreateCA: %v", err)
			}
			if created {
				t.Errorf("created = true, want false")
			}
			if !got.root.Equal(ca.root) {
				t.Errorf("root changed on reload, want the same root")
			}
			same := got.inter.SerialNumber.Cmp(ca.inter.SerialNumber) == 0
			if same != tc.wantSerial {
				t.Errorf("intermediate kept = %v, want %v", same, tc.wantSerial)
			}
			if tc.wantRenew && dueForRenewal(got.inter, now) {
				t.Errorf("renewed intermediate is already due for renewal")
			}
			if err := got.inter.CheckSignatureFrom(got.root); err != nil {
				t.Errorf("intermediate not signed by root: %v", err)
			}
		})
	}
}

func TestLoadOrCreateCAErrors(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(t *testing.T, dir string, mk *keys.MasterKey) (KeyManager, spiffeid.TrustDomain)
		wantSub     []string
		wantDecrypt bool
	}{
		{
			name: "other key manager",
			mutate: func(t *testing.T, _ string, _ *keys.MasterKey) (KeyManager, spiffeid.TrustDomain) {
				return openTestKM(t, t.TempDir(), newMasterKey(t)), testTD
			},
			wantSub:     []string{rootKeySlot.wrapped, "key manager does not open"},
			wantDecrypt: true,
		},
		{
			name: "root for another trust domain",
			mutate: func(t *testing.T, dir string, mk *keys.MasterKey) (KeyManager, spiffeid.TrustDomain) {
				return testKM(t, dir, mk), spiffeid.RequireTrustDomainFromString("other.test")
			},
			wantSub: []string{rootCertFile, "other.test"},
		},
		{
			name: "root key moved over the intermediate key",
			mutate: func(t *testing.T, dir string, mk *keys.MasterKey) (KeyManager, spiffeid.TrustDomain) {
				copyFile(t, filepath.Join(dir, rootKeySlot.wrapped), filepath.Join(dir, interKeySlot.wrapped))
				return testKM(t, dir, mk), testTD
			},
			wantSub:     []string{interKeySlot.wrapped, "key manager does not open"},
			wantDecrypt: true,
		},
		{
			name: "root key missing",
			mutate: func(t *testing.T, dir string, mk *keys.MasterKey) (KeyManager, spiffeid.TrustDomain) {
				removeFile(t, filepath.Join(dir, rootKeySlot.wrapped))
				return testKM(t, dir, mk), testTD
			},
			wantSub: []string{rootKeySlot.wrapped, "file does not exist"},
		},
		{
			name: "root key altered",
			mutate: func(t *testing.T, dir string, mk *keys.MasterKey) (KeyManager, spiffeid.TrustDomain) {
				flipLastByte(t, filepath.Join(dir, rootKeySlot.wrapped))
				return testKM(t, dir, mk), testTD
			},
			wantSub:     []string{rootKeySlot.wrapped, "key manager does not open"},
			wantDecrypt: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, dir, mk := newTestCA(t, nil)
			km, td := tc.mutate(t, dir, mk)
			before := snapshotDir(t, dir)
			_, _, err := LoadOrCreateCA(context.Background(), dir, mk, km, td, nil)
			if err == nil {
				t.Fatalf("LoadOrCreateCA = nil error, want one containing %q", tc.wantSub)
			}
			for _, s := range tc.wantSub {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error = %q, want it to contain %q", err, s)
				}
			}
			if got := errors.Is(err, envelope.ErrDecrypt); got != tc.wantDecrypt {
				t.Errorf("errors.Is(err, envelope.ErrDecrypt) = %v, want %v (err: %v)", got, tc.wantDecrypt, err)
			}
			if after := snapshotDir(t, dir); !maps.Equal(before, after) {
				t.Errorf("a refused load changed the CA dir: before %v, after %v", keysOf(before), keysOf(after))
			}
		})
	}
}

func TestLoadOrCreateCAArgs(t *testing.T) {
	mk := newMasterKey(t)
	km := openTestKM(t, t.TempDir(), mk)
	tests := []struct {
		name string
		mk   *keys.MasterKey
		km   KeyManager
		td   spiffeid.TrustDomain
	}{
		{"no master key", nil, km, testTD},
		{"no key manager", mk, nil, testTD},
		{"no trust domain", mk, km, spiffeid.TrustDomain{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := LoadOrCreateCA(context.Background(), filepath.Join(t.TempDir(), "ca"), tc.mk, tc.km, tc.td, nil); err == nil {
				t.Errorf("LoadOrCreateCA = nil error, want an error")
			}
		})
	}
}

func TestBundle(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	b := ca.Bundle()
	if got := b.TrustDomain(); got != testTD {
		t.Errorf("bundle trust domain = %s, want %s", got, testTD)
	}
	if got := b.X509Authorities(); len(got) != 1 || !got[0].Equal(ca.root) {
		t.Errorf("bundle authorities = %d certs, want exactly the root", len(got))
	}
	b.AddX509Authority(ca.inter) // a caller changing its copy must not change the CA
	if got := len(ca.Bundle().X509Authorities()); got != 1 {
		t.Errorf("after changing a returned bundle, CA bundle has %d authorities, want 1", got)
	}
	certs, err := pemCerts(ca.BundlePEM())
	if err != nil || len(certs) != 1 || !certs[0].Equal(ca.root) {
		t.Errorf("BundlePEM = %d certs (err %v), want the root alone", len(certs), err)
	}
}

func pemCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

func TestLoadOrCreateCARootExpired(t *testing.T) {
	t0 := time.Now()
	_, dir, mk := newTestCA(t, func() time.Time { return t0 })
	later := t0.Add(rootTTL + time.Hour)
	_, _, err := loadTestCA(t, dir, mk, testTD, func() time.Time { return later })
	if err == nil || !strings.Contains(err.Error(), "root expired") {
		t.Errorf("LoadOrCreateCA after the root expired = %v, want a \"root expired\" error", err)
	}
}
