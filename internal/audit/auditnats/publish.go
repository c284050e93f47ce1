package auditnats

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Publisher is a ship.Sender that publishes each batch to the stream and returns once
// JetStream acknowledged it stored.
type Publisher struct {
	JS     jetstream.JetStream
	Stream string
	SVID   x509svid.Source

	ready atomic.Bool // the stream is known to exist
}

func (p *Publisher) Send(ctx context.Context, recs [][]byte) error {
	body := append(bytes.Join(recs, []byte("\n")), '\n')
	svid, err := p.SVID.GetX509SVID()
	if err != nil {
		return fmt.Errorf("publish audit batch: %w", err)
	}
	chain, sig, err := sign(svid, body)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	msg := &nats.Msg{Subject: Subject(p.Stream), Data: body, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, hex.EncodeToString(sum[:]))
	msg.Header.Set(HeaderChain, chain)
	msg.Header.Set(HeaderSignature, sig)
	if !p.ready.Load() { // the role may start before the collector created the stream
		if _, err := EnsureStream(ctx, p.JS, p.Stream); err != nil {
			return err
		}
		p.ready.Store(true)
	}
	if _, err := p.JS.PublishMsg(ctx, msg, jetstream.WithExpectStream(p.Stream)); err != nil {
		p.ready.Store(false)
		return fmt.Errorf("publish audit batch: %w", err)
	}
	return nil
}
