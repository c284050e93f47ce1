package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/cabundle"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

func TestAuditNATSServerID(t *testing.T) {
	nats := func(url, serverID string) string {
		s := minimal + "audit:\n  transport: nats\n  nats:\n    url: " + url + "\n"
		if serverID != "" {
			s += "    server_id: " + serverID + "\n"
		}
		return s
	}
	c, err := Parse("bulwark.yaml", []byte(nats("tls://127.0.0.1:4222", "spiffe://bank.local/svc/nats")))
	if err != nil || c.Audit.NATS.Server.String() != "spiffe://bank.local/svc/nats" {
		t.Fatalf("tls:// with server_id: got %q, %v", c.Audit.NATS.Server, err)
	}
	if c, err := Parse("bulwark.yaml", []byte(nats("tls://nats.example:4222", ""))); err != nil || !c.Audit.NATS.Server.IsZero() {
		t.Fatalf("tls:// without server_id: got %q, %v", c.Audit.NATS.Server, err)
	}
	for _, tc := range []struct{ name, url, id, want string }{
		{"plaintext url", "nats://127.0.0.1:4222", "spiffe://bank.local/svc/nats", "audit.nats.server_id: needs a tls:// audit.nats.url"},
		{"not a SPIFFE ID", "tls://127.0.0.1:4222", "nats.example", "audit.nats.server_id: not a SPIFFE ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("bulwark.yaml", []byte(nats(tc.url, tc.id))); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// natsTLSConfig is the minimal config delivering over NATS at url with the audit.nats
// keys in extra ("key: value" lines).
func natsTLSConfig(url string, extra ...string) string {
	s := minimal + "audit:\n  transport: nats\n  nats:\n    url: " + url + "\n"
	for _, e := range extra {
		s += "    " + e + "\n"
	}
	return s
}

func pemCert(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuditNATSCAFile checks that audit.nats.ca_file is loaded into RootCAs, which then
// verify exactly the certificates its CAs signed, and that server_name is kept.
func TestAuditNATSCAFile(t *testing.T) {
	corp, other, rogue := testpki.New(t, "corp.example"), testpki.New(t, "other.example"), testpki.New(t, "corp.example")
	leaf := func(ca *testpki.CA) *x509.Certificate {
		c, err := x509.ParseCertificate(ca.ServerCert(t).Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// A system-style bundle: comments around the blocks, two CAs.
	bundle := append([]byte("# corp root\n"), pemCert(corp.Root)...)
	bundle = append(append(bundle, "\n# other root\n"...), pemCert(other.Root)...)
	file := writeTemp(t, "ca.pem", bundle)

	c, err := Parse("bulwark.yaml", []byte(natsTLSConfig("tls://nats.corp.example:4222", "ca_file: "+file, "server_name: nats-1.corp.example")))
	if err != nil {
		t.Fatal(err)
	}
	n := c.Audit.NATS
	if n.RootCAs == nil || n.ServerName != "nats-1.corp.example" || !n.Server.IsZero() {
		t.Fatalf("got RootCAs %v, server_name %q, server %q; want the bundle, nats-1.corp.example, none", n.RootCAs != nil, n.ServerName, n.Server)
	}
	for _, tc := range []struct {
		name string
		ca   *testpki.CA
		ok   bool
	}{{"first CA", corp, true}, {"second CA", other, true}, {"a CA of the same name, not in the file", rogue, false}} {
		_, err := leaf(tc.ca).Verify(x509.VerifyOptions{Roots: n.RootCAs, DNSName: "localhost"})
		if (err == nil) != tc.ok {
			t.Errorf("%s: verify against RootCAs: got %v, want ok %v", tc.name, err, tc.ok)
		}
	}

	// server_name alone refines the system-roots check; neither key: no RootCAs.
	if c, err := Parse("bulwark.yaml", []byte(natsTLSConfig("tls://10.0.0.7:4222", "server_name: nats.corp.example"))); err != nil || c.Audit.NATS.RootCAs != nil {
		t.Fatalf("server_name without ca_file: got RootCAs %v, %v", c != nil && c.Audit.NATS.RootCAs != nil, err)
	}
	if c, err := Parse("bulwark.yaml", []byte(natsTLSConfig("tls://10.0.0.7:4222", "server_name: 10.0.0.7"))); err != nil || c.Audit.NATS.ServerName != "10.0.0.7" {
		t.Fatalf("an IP address as server_name: %v", err)
	}
}

// TestAuditNATSCAFileRefused checks every refusal of ca_file and server_name: each names
// the key with the file and line, and no config is returned.
func TestAuditNATSCAFileRefused(t *testing.T) {
	ca := testpki.New(t, "corp.example")
	good := writeTemp(t, "ca.pem", pemCert(ca.Root))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	keyB64 := strings.Split(string(keyPEM), "\n")[1]
	unreadable := t.TempDir() // a directory: unreadable as a file, whoever runs the test

	const tlsURL = "tls://127.0.0.1:4222"
	// Each want starts with the key it names; %s is the ca_file's path.
	for _, tc := range []struct {
		name  string
		url   string
		extra []string
		want  string
	}{
		{"ca_file with server_id", tlsURL, []string{"server_id: spiffe://bank.local/svc/nats", "ca_file: " + good},
			"audit.nats.ca_file: cannot be combined with audit.nats.server_id"},
		{"server_name with server_id", tlsURL, []string{"server_id: spiffe://bank.local/svc/nats", "server_name: nats.example"},
			"audit.nats.server_name: cannot be combined with audit.nats.server_id"},
		{"ca_file over nats://", "nats://127.0.0.1:4222", []string{"ca_file: " + good}, "audit.nats.ca_file: needs a tls:// audit.nats.url"},
		{"server_name over nats://", "nats://127.0.0.1:4222", []string{"server_name: nats.example"}, "audit.nats.server_name: needs a tls:// audit.nats.url"},
		{"missing file", tlsURL, []string{"ca_file: " + filepath.Join(t.TempDir(), "nope.pem")}, "audit.nats.ca_file: read %s: no such file or directory"},
		{"unreadable file", tlsURL, []string{"ca_file: " + unreadable}, "audit.nats.ca_file: read %s: is a directory"},
		{"empty file", tlsURL, []string{"ca_file: " + writeTemp(t, "empty.pem", nil)}, "audit.nats.ca_file: %s: file is empty"},
		{"blank file", tlsURL, []string{"ca_file: " + writeTemp(t, "blank.pem", []byte("\n \n"))}, "audit.nats.ca_file: %s: file is empty"},
		{"not PEM", tlsURL, []string{"ca_file: " + writeTemp(t, "der.pem", ca.Root.Raw)}, "audit.nats.ca_file: %s: not PEM: no CERTIFICATE block found"},
		{"a key, no certificate", tlsURL, []string{"ca_file: " + writeTemp(t, "key.pem", keyPEM)},
			`audit.nats.ca_file: %s: PEM block 1 is "PRIVATE KEY"; a CA bundle holds CERTIFICATE blocks only`},
		{"a certificate and a key", tlsURL, []string{"ca_file: " + writeTemp(t, "both.pem", append(pemCert(ca.Root), keyPEM...))},
			`audit.nats.ca_file: %s: PEM block 2 is "PRIVATE KEY"`},
		{"a CERTIFICATE block that is no certificate", tlsURL,
			[]string{"ca_file: " + writeTemp(t, "bad.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}))},
			"audit.nats.ca_file: %s: PEM block 1: not a valid certificate"},
		{"too large", tlsURL, []string{"ca_file: " + writeTemp(t, "big.pem", append(pemCert(ca.Root), make([]byte, cabundle.MaxSize)...))},
			"audit.nats.ca_file: %s is larger than 1048576 bytes"},
		{"server_name with a port", tlsURL, []string{"server_name: nats.example:4222"},
			`audit.nats.server_name: want a DNS name or IP address such as nats.example.com, got "nats.example:4222"`},
		{"server_name a URL", tlsURL, []string{"server_name: tls://nats.example"}, "audit.nats.server_name: want a DNS name"},
		{"server_name a wildcard", tlsURL, []string{"server_name: '*.example.com'"}, "audit.nats.server_name: want a DNS name"},
		{"server_name with a bad label", tlsURL, []string{"server_name: nats-.example"}, "audit.nats.server_name: want a DNS name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := natsTLSConfig(tc.url, tc.extra...)
			key := strings.TrimPrefix(tc.want[:strings.Index(tc.want, ": ")], "audit.nats.")
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, strings.TrimPrefix(tc.extra[len(tc.extra)-1], "ca_file: "))
			}
			// The key's own line, as the other config errors give it.
			line := 1 + strings.Count(yaml[:strings.Index(yaml, "    "+key+":")], "\n")
			want = fmt.Sprintf("bulwark.yaml:%d: %s", line, want)
			c, err := Parse("bulwark.yaml", []byte(yaml))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want an error containing %q", err, want)
			}
			if c != nil {
				t.Errorf("got a config alongside the error")
			}
			if strings.Contains(err.Error(), keyB64) || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("the error quotes the file's content: %v", err)
			}
		})
	}
}

// TestAuditNATSCAFileNeedsRestart checks that ca_file and server_name, like the rest of
// audit.nats, are bound at start: a reload that changes them is refused.
func TestAuditNATSCAFileNeedsRestart(t *testing.T) {
	a := writeTemp(t, "a.pem", pemCert(testpki.New(t, "corp.example").Root))
	b := writeTemp(t, "b.pem", pemCert(testpki.New(t, "corp.example").Root))
	run := parseForRestart(t, natsTLSConfig("tls://nats.example:4222", "ca_file: "+a))
	for _, tc := range []struct{ name, key, line string }{
		{"another ca_file", "audit.nats.ca_file", "ca_file: " + b},
		{"a server_name", "audit.nats.server_name", "server_name: nats-1.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := []string{tc.line}
			if tc.key != "audit.nats.ca_file" {
				extra = append(extra, "ca_file: "+a)
			}
			err := run.RestartRequired(parseForRestart(t, natsTLSConfig("tls://nats.example:4222", extra...)))
			if err == nil || !strings.Contains(err.Error(), "next.yaml:") || !strings.Contains(err.Error(), ": "+tc.key+": changed") {
				t.Errorf("got %v, want %s refused with its file and line", err, tc.key)
			}
		})
	}
}
