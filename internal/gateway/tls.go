package gateway

import "crypto/tls"

// tls12Suites are the only TLS 1.2 suites offered: ECDHE for forward secrecy and AEAD
// ciphers only. TLS 1.3 suites are not configurable in Go and are all AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLS is the edge TLS policy. Go always picks the highest version both sides
// support, so TLS 1.3 is preferred whenever the client offers it.
func serverTLS(cert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   tls12Suites,
		GetCertificate: cert,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}
