// Package cabundle reads the PEM CA bundles that configuration names (ca_file keys, the
// CA bundle of endpoints.json) into certificate pools. Unlike
// x509.CertPool.AppendCertsFromPEM it refuses what it would skip: a private key pasted
// into a bundle, or a certificate that does not parse, is a mistake to report, not to
// ignore. Errors name the file but never quote its content.
package cabundle

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxSize bounds a CA bundle file (a system bundle of every public root is about 220 KiB).
const MaxSize = 1 << 20

// Load reads the PEM CA bundle at path into a pool.
func Load(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPath(err))
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxSize)
	}
	pool, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pool, nil
}

// Parse parses PEM data that must hold at least one CERTIFICATE block and nothing but
// CERTIFICATE blocks (text between blocks, such as the comments of a system bundle, is
// allowed).
func Parse(data []byte) (*x509.CertPool, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("file is empty; want PEM CERTIFICATE blocks")
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q; a CA bundle holds CERTIFICATE blocks only", n, truncate(block.Type, 40))
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: not a valid certificate: %v", n, err)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, errors.New("not PEM: no CERTIFICATE block found")
	}
	return pool, nil
}

// unwrapPath drops the path an *fs.PathError repeats (the caller names the file).
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
