package cabundle

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/testpki"
)

// FuzzParse checks that Parse never panics and accepts only data with at
// least one PEM block, every one of them a CERTIFICATE.
func FuzzParse(f *testing.F) {
	root := testpki.New(f, "corp.example").Root
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	f.Add(cert)
	f.Add(append(append([]byte("# comment\n"), cert...), cert...))
	f.Add([]byte{})
	f.Add([]byte(" \n"))
	f.Add(root.Raw)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("k")}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}))
	f.Fuzz(func(t *testing.T, data []byte) {
		pool, err := Parse(data)
		if err != nil {
			if pool != nil {
				t.Fatalf("got a pool alongside error %v", err)
			}
			return
		}
		n := 0
		for rest := data; ; n++ {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				t.Fatalf("accepted a %q block", b.Type)
			}
		}
		if pool == nil || n == 0 {
			t.Fatalf("accepted %d blocks into pool %v", n, pool)
		}
	})
}

// TestLoad: a bundle loads; what AppendCertsFromPEM would skip or accept silently is
// refused, naming the file and never quoting it.
func TestLoad(t *testing.T) {
	root := testpki.New(t, "corp.example").Root
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secret-key-bytes")})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.pem", append([]byte("# corp roots\n"), cert...))
	pool, err := Load(good)
	if err != nil || !pool.Equal(func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(root); return p }()) {
		t.Fatalf("Load(good) = %v, %v; want a pool of the root", pool, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	for name, data := range map[string][]byte{
		"with-key.pem": append(append([]byte{}, cert...), key...),
		"empty.pem":    nil,
		"der.pem":      root.Raw,
		"big.pem":      append(append([]byte{}, cert...), make([]byte, MaxSize)...),
	} {
		p := write(name, data)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "secret-key-bytes") {
			t.Errorf("Load(%s) = %v; want an error naming the file, not quoting it", name, err)
		}
	}
}
