// Package auditnats carries spooled audit events from the roles to the collector through
// a NATS JetStream stream (audit.transport: nats), for deployments where many roles
// deliver to collectors that come and go.
//
// A role publishes each spooled batch as one message (one event per line) with a
// Nats-Msg-Id of the batch's SHA-256, so JetStream's duplicate window drops a batch the
// role re-publishes after a lost PubAck; the batch leaves the spool only once JetStream
// acknowledged it stored (file storage). The collector pulls with explicit acks through a
// durable consumer and acks a message only after its events are durable in the audit log;
// its own event-id index drops what the window misses.
//
// The broker is not trusted with provenance: each message carries the sender's X.509-SVID
// chain and a signature over the body made with the SVID's key, and the collector checks
// the chain against the trust bundle (at the message's stream time) before it treats the
// SPIFFE ID in it as the sender, exactly as the mTLS handshake does for HTTPS delivery.
//
// With a tls:// URL the connection itself is TLS: every role presents its SVID as the
// client certificate, and verifies the server as audit.nats.server_id against the trust
// bundle, or, without it, as an ordinary TLS server: a chain to the CAs of
// audit.nats.ca_file (a private, non-SPIFFE CA) or to the system roots, and the name
// audit.nats.server_name or the URL's host (TLSConfig).
package auditnats

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a batch message.
const (
	HeaderChain     = "Bulwark-Svid-Chain" // the sender's SVID chain: base64 DER certificates, comma-separated
	HeaderSignature = "Bulwark-Signature"  // base64 signature of the body with the SVID's key
)

// Defaults.
const (
	DefaultStream   = "BULWARK_AUDIT"
	DefaultConsumer = "bulwark-collector"
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id.
	DuplicateWindow = 10 * time.Minute
)

// Subject is where batches are published for stream.
func Subject(stream string) string { return "bulwark.audit." + stream }

// Connect dials url, over TLS with tlsConf when it is not nil (TLSConfig; a tls:// URL),
// and retries for ever in the background while the server is away.
func Connect(ctx context.Context, url, stream, name string, tlsConf *tls.Config) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.ReconnectWait(time.Second)}
	if tlsConf != nil {
		opts = append(opts, nats.Secure(tlsConf))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("nats: %w", err) // not the URL: it may hold credentials
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats jetstream: %w", err)
	}
	return nc, js, nil
}

// EnsureStream creates the stream or brings its config up to date.
func EnsureStream(ctx context.Context, js jetstream.JetStream, stream string) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        stream,
		Description: "Bulwark audit events on their way to the collector",
		Subjects:    []string{Subject(stream)},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Duplicates:  DuplicateWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("nats stream %s: %w", stream, err)
	}
	return s, nil
}
