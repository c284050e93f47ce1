package tokenize

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// recorder is the real file recorder and the path of its file, for audittest.Read.
type recorder struct {
	*audit.FileLog
	path string
}

func openVault(t testing.TB, keepLast4 ...string) (*Vault, *envelope.Manager, string) {
	t.Helper()
	dir := t.TempDir()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tokens", "tokens.db")
	v, err := Open(context.Background(), path, m, keepLast4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, m, path
}

var testGrants = config.Tokenization{Grants: []config.TokenGrant{
	{Caller: "payments", Tokenize: []string{KindCard}},
	{Caller: "clearing", Detokenize: []string{KindCard}},
}}

// apiServer serves the tokens API on the real control-plane server over mTLS and returns
// a client factory: client(name) presents the SVID of service name.
func apiServer(t *testing.T) (client func(name string) Client, rec *recorder) {
	t.Helper()
	v, _, _ := openVault(t, KindCard)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	fl, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	rec = &recorder{FileLog: fl, path: path}
	ca := testpki.New(t, "bank.local")
	svc := &Service{Vault: v, Grants: testGrants, Audit: rec}
	api := control.NewAPI()
	api.Handle("/v1/tokens/", Handler(svc, PeerCaller(ca.TD), testLog()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctrl := ca.SVID(t, "control")
	var workloads []spiffeid.ID
	for _, n := range []string{"payments", "clearing", "notifications"} {
		workloads = append(workloads, spiffeid.RequireFromSegments(ca.TD, "svc", n))
	}
	srv := &control.Server{Listener: ln, SVID: ctrl, Bundle: ca.Bundle(), Log: testLog(),
		Callers:   []spiffeid.ID{spiffeid.RequireFromSegments(ca.TD, "svc", "gateway")},
		Handler:   http.NotFoundHandler(),
		Workloads: workloads, API: api}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return func(name string) Client {
		tlsc := identity.ClientTLS(ca.SVID(t, name), ca.Bundle(), ctrl.ID)
		return Client{HTTP: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsc}},
			BaseURL: "https://" + ln.Addr().String()}
	}, rec
}
