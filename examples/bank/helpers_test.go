package bank

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

const trustDomain = "spiffe://bank.local"

// who is the identity a sidecar would vouch for on a request.
type who struct {
	caller string // service name; "" sends no caller header
	user   string
	roles  string
}

var (
	alice = who{caller: "gateway", user: "alice", roles: "customer"}
	bob   = who{caller: "gateway", user: "bob", roles: "customer"}
	tina  = who{caller: "gateway", user: "tina", roles: "teller"}
	anon  = who{caller: "gateway"}
)

func (w who) set(h http.Header) {
	proxy.StripIdentityHeaders(h)
	if w.caller != "" {
		h.Set(proxy.HeaderCaller, trustDomain+"/svc/"+w.caller)
	}
	if w.user != "" {
		h.Set(proxy.HeaderUser, w.user)
	}
	if w.roles != "" {
		h.Set(proxy.HeaderRoles, w.roles)
	}
}

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// shortTempDir is a temp dir short enough for unix socket paths (about 100 bytes at most).
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bank")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func newApp(t testing.TB, name, dataDir string, mesh *http.Client) *App {
	t.Helper()
	a, err := New(name, dataDir, mesh, testLogger())
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// testBank is the four services in one data dir, wired by a stand-in for the sidecars.
type testBank struct {
	dir     string
	apps    map[string]*App
	control *testControl // the control plane's key and token APIs, reached as http://bulwark
}

// newTestBank starts the services in names (all when empty). Each caller's mesh client
// points at its own unix socket, served by a router that does what the caller's sidecar
// would: strip identity headers, name the caller, and route by Host to the target app.
// A target that is not running answers 502.
func newTestBank(t testing.TB, names ...string) *testBank {
	t.Helper()
	if len(names) == 0 {
		names = Services
	}
	b := &testBank{dir: shortTempDir(t), apps: map[string]*App{}}
	b.control = newTestControl(t, filepath.Join(b.dir, "control"))
	for _, name := range names {
		var mesh *http.Client
		if name == "accounts" || name == "payments" {
			mesh = MeshClient(b.serveMesh(t, name))
		}
		b.apps[name] = newApp(t, name, filepath.Join(b.dir, "data"), mesh)
	}
	return b
}

func (b *testBank) serveMesh(t testing.TB, from string) string {
	t.Helper()
	sock := filepath.Join(b.dir, from+".sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == config.SecretsHost {
			who{caller: from}.set(r.Header)
			b.control.handler.ServeHTTP(w, r)
			return
		}
		to, ok := b.apps[r.Host]
		if !ok {
			http.Error(w, "no route", http.StatusBadGateway)
			return
		}
		who{caller: from}.set(r.Header)
		to.Handler().ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return sock
}

// do sends one request to h as the sidecar would deliver it and returns status and body.
func do(t *testing.T, h http.Handler, as who, method, path, body string, opts ...func(*http.Request)) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	as.set(req.Header)
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("%s %s: Content-Type = %q, want application/json", method, path, got)
	}
	return rec.Code, rec.Body.Bytes()
}

func withHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

// errorCode returns the stable code of a JSON error body, or "".
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e proxy.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error.Code
}

// balance reads an account's balance straight from the ledger.
func (b *testBank) balance(t *testing.T, account string) int64 {
	t.Helper()
	status, body := do(t, b.apps["ledger"].Handler(), who{caller: "accounts"}, "GET", "/balances/"+account, "")
	if status != http.StatusOK {
		t.Fatalf("ledger balance %s: status %d, body %s", account, status, body)
	}
	var lb ledgerBalance
	if err := json.Unmarshal(body, &lb); err != nil {
		t.Fatal(err)
	}
	return lb.Balance
}

// count returns the number of rows in table of service's database.
func (b *testBank) count(t *testing.T, service, table string, where ...any) int {
	t.Helper()
	q := "SELECT count(*) FROM " + table
	if len(where) > 0 {
		q += " WHERE " + where[0].(string)
		where = where[1:]
	}
	var n int
	if err := b.apps[service].db.QueryRow(q, where...).Scan(&n); err != nil {
		t.Fatalf("count %s.%s: %v", service, table, err)
	}
	return n
}
