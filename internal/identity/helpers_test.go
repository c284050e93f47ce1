package identity

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var testTD = spiffeid.RequireTrustDomainFromString("bank.test")

func svcID(name string) spiffeid.ID { return spiffeid.RequireFromSegments(testTD, "svc", name) }

// newMasterKey creates a fresh master key in its own temp dir.
func newMasterKey(t *testing.T) *keys.MasterKey {
	t.Helper()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// newTestCA creates a CA in a temp dir and returns it with its dir and master key.
func newTestCA(t *testing.T, now func() time.Time) (*CA, string, *keys.MasterKey) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	mk := newMasterKey(t)
	ca, created, err := loadTestCA(t, dir, mk, testTD, now)
	if err != nil {
		t.Fatalf("LoadOrCreateCA: %v", err)
	}
	if !created {
		t.Fatalf("LoadOrCreateCA created = false on an empty dir, want true")
	}
	return ca, dir, mk
}

// shortTempDir returns a temp dir short enough for unix socket paths.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// handshake runs one TLS connection over 127.0.0.1 between server and client configs, and
// returns nil only if both sides complete the handshake and the client reads the server's
// greeting (in TLS 1.3 a rejected client certificate surfaces on that first read).
func handshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second)) // guards against a hang, asserts nothing
		if err := c.(*tls.Conn).Handshake(); err != nil {
			srvErr <- err
			return
		}
		_, err = c.Write([]byte("ok"))
		srvErr <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		return errors.Join(err, <-srvErr)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 2)
	_, readErr := io.ReadFull(c, buf)
	return errors.Join(readErr, <-srvErr)
}

// fileMode returns the permission bits of path.
func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// writeSealedKey writes key as PKCS#8 sealed with mk for purpose: a key file as versions
// before the key manager wrote it.
func writeSealedKey(path string, mk *keys.MasterKey, key *ecdsa.PrivateKey, purpose string) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return mk.WriteSealedFile(path, der, purpose)
}
