package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// result is the outcome of one request.
type result struct {
	status int
	err    error
	proto  string // "HTTP/1.1", "HTTP/2.0"
	tls    uint16 // negotiated TLS version, 0 for plain HTTP
}

// sender sends the benchmark's request once. Each worker has its own.
type sender func(ctx context.Context) result

// kind classifies r: "" for a success, else the error kind it is counted under.
func (r result) kind(expect int) string {
	var ne net.Error
	switch {
	case r.err == nil && r.status == expect:
		return ""
	case r.err == nil:
		return fmt.Sprintf("status_%d", r.status)
	case errors.Is(r.err, context.Canceled):
		return "canceled"
	case errors.Is(r.err, context.DeadlineExceeded), errors.As(r.err, &ne) && ne.Timeout():
		return "timeout"
	default:
		return "transport"
	}
}

func (r result) describe(kind string) string {
	if r.err != nil {
		return fmt.Sprintf("%s: %v", kind, r.err)
	}
	return fmt.Sprintf("got status %d", r.status)
}

// newSenders returns conns×streams senders. Each connection is its own Transport limited to
// one connection, so -conns is exactly the number of keep-alive connections; with h2 the
// -streams senders of a connection share it.
func newSenders(o *options) ([]sender, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-cacert %s: no PEM certificate", o.caFile)
		}
		tlsConf.RootCAs = pool
	}
	dialer := &net.Dialer{
		Timeout:   o.timeout,
		KeepAlive: 30 * time.Second,
		Control:   func(network, address string, _ syscall.RawConn) error { return checkLoopback(network, address) },
	}
	var protos http.Protocols
	if o.proto == "h2" {
		protos.SetHTTP2(true)
	} else {
		protos.SetHTTP1(true)
	}
	senders := make([]sender, 0, o.conns*o.streams)
	for range o.conns {
		tr := &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     tlsConf.Clone(),
			TLSHandshakeTimeout: o.timeout,
			Protocols:           &protos,
			MaxConnsPerHost:     1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}
		client := &http.Client{
			Transport:     tr,
			Timeout:       o.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		for range o.streams {
			senders = append(senders, newSender(client, o))
		}
	}
	return senders, nil
}

func newSender(client *http.Client, o *options) sender {
	target := o.target.String()
	return func(ctx context.Context) result {
		req, err := http.NewRequestWithContext(ctx, o.method, target, nil)
		if err != nil {
			return result{err: err}
		}
		req.Header = o.header // shared and only read: no per-request copy on the load generator's CPU
		resp, err := client.Do(req)
		if err != nil {
			return result{err: err}
		}
		_, err = io.Copy(io.Discard, resp.Body) // read to the end so the connection is reused
		resp.Body.Close()
		r := result{status: resp.StatusCode, err: err, proto: resp.Proto}
		if resp.TLS != nil {
			r.tls = resp.TLS.Version
		}
		return r
	}
}
