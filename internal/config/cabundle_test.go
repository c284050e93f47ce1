package config

import (
	"encoding/pem"
	"testing"

	"github.com/bulwark-security/bulwark/internal/testpki"
)

// FuzzParseCABundle checks that parseCABundle never panics and accepts only data with at
// least one PEM block, every one of them a CERTIFICATE.
func FuzzParseCABundle(f *testing.F) {
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
		pool, err := parseCABundle(data)
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
