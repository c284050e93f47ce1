package ship

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/collect"
	"github.com/bulwark-security/bulwark/internal/audit/spool"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// serveCollector serves the real collector over real mTLS on addr until the test ends.
func serveCollector(t *testing.T, ca *testpki.CA, addr string, c *collect.Collector) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy.RequestID(true)(&collect.Handler{Collector: c, Log: slog.New(slog.DiscardHandler)}),
		TLSConfig: identity.ServerTLS(ca.SVID(t, "control"), ca.Bundle(), tlsconfig.AuthorizeMemberOf(ca.TD))}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
}

// The collector is down while a role records: the events stay spooled and are retried;
// once it is up they are delivered, stamped with the sender, and leave the spool.
func TestShipWhileCollectorDownThenUp(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	dir := t.TempDir()
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(dir, "spool"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i := range 5 {
		if err := sp.Record(context.Background(), audit.Event{ID: fmt.Sprintf("ev%d", i), Kind: audit.KindAuthz, Component: "sidecar/ledger", Outcome: audit.Allow}); err != nil {
			t.Fatal(err)
		}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the collector is down

	var logs syncBuf
	controlID := spiffeid.RequireFromSegments(ca.TD, "svc", "control")
	sh := &Shipper{Spool: sp, Log: slog.New(slog.NewTextHandler(&logs, nil)), MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Sender: &HTTPSender{Client: &http.Client{Transport: proxy.NewMTLSTransport(ca.SVID(t, "ledger"), ca.Bundle(), proxy.Peer{ID: controlID, Addr: addr})},
			URL: "https://control" + collect.EventsPath}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sh.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(500 * time.Millisecond)
	if st := sp.Stats(); st.Events != 5 {
		t.Fatalf("events left the spool while the collector was down: %+v", st)
	}
	if !strings.Contains(logs.String(), "audit delivery failed") {
		t.Errorf("failed delivery not logged: %s", logs.String())
	}

	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := auditlog.Open(auditlog.Options{Path: filepath.Join(dir, "audit", "events.jsonl"), Origin: "bank.local/audit", Keys: openKeys(t, dir, mk), MasterKey: mk, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := collect.New(collect.Options{Log: l, Reporters: map[spiffeid.ID]string{spiffeid.RequireFromSegments(ca.TD, "svc", "ledger"): "sidecar/ledger"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	serveCollector(t, ca, addr, c)
	deadline := time.Now().Add(10 * time.Second)
	for sp.Stats().Events != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained within 10s of the collector coming up: %+v\n%s", sp.Stats(), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(l.Path())
	if got := strings.Count(string(b), `"reporter":"spiffe://bank.local/svc/ledger"`); got != 5 || l.Size() != 5 {
		t.Errorf("log holds %d records, %d stamped; want 5:\n%s", l.Size(), got, b)
	}
	if !strings.Contains(logs.String(), "audit delivery resumed") {
		t.Errorf("resumption not logged")
	}
}

// A sidecar whose spool holds an event claiming to be the gateway's: the collector
// refuses the batch, nothing is stored, and the events stay spooled (an operator must look).
func TestForgedEventsStaySpooled(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	dir := t.TempDir()
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(dir, "spool"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow}); err != nil {
		t.Fatal(err)
	}
	mk, _, _ := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	l, err := auditlog.Open(auditlog.Options{Path: filepath.Join(dir, "audit", "events.jsonl"), Origin: "bank.local/audit", Keys: openKeys(t, dir, mk), MasterKey: mk, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ledger := spiffeid.RequireFromSegments(ca.TD, "svc", "ledger")
	c, _ := collect.New(collect.Options{Log: l, Reporters: map[spiffeid.ID]string{ledger: "sidecar/ledger",
		spiffeid.RequireFromSegments(ca.TD, "svc", "gateway"): "gateway"}, Logger: slog.New(slog.DiscardHandler)})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	serveCollector(t, ca, addr, c)

	snd := &HTTPSender{Client: &http.Client{Transport: proxy.NewMTLSTransport(ca.SVID(t, "ledger"), ca.Bundle(),
		proxy.Peer{ID: spiffeid.RequireFromSegments(ca.TD, "svc", "control"), Addr: addr})}, URL: "https://control" + collect.EventsPath}
	b, _ := sp.Peek(10, 1<<20)
	err = snd.Send(context.Background(), b.Records)
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), `"code":"forbidden"`) || !strings.Contains(err.Error(), "request_id") {
		t.Fatalf("forged batch: got %v, want a 403 forbidden JSON error with a request id", err)
	}
	if l.Size() != 0 || sp.Stats().Events != 1 {
		t.Errorf("log %d records, spool %+v: want nothing stored, the event still spooled", l.Size(), sp.Stats())
	}
}

// openKeys opens the key manager of the state dir dir, which wraps the log's signing key.
func openKeys(t testing.TB, dir string, mk *keys.MasterKey) *envelope.Manager {
	t.Helper()
	km, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return km
}
