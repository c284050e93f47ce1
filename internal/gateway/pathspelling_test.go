package gateway

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// spellingWorld is the bank's routes and policies, plus one case-insensitive route
// (/help/**, no token needed), for deciding path spellings without a network.
type spellingWorld struct {
	g      *Gateway
	engine *authz.Engine
}

func newSpellingWorld(t testing.TB) *spellingWorld {
	t.Helper()
	cfg, err := config.Load("../../examples/bank/bulwark.yaml")
	if err != nil {
		t.Fatalf("bank config: %v", err)
	}
	cfg.Gateway.Routes = append(cfg.Gateway.Routes, config.Route{Path: "/help/**", Service: "accounts", Auth: "none", CaseInsensitive: true})
	engine, err := authz.NewEngine(cfg, "../../examples/bank/policies")
	if err != nil {
		t.Fatalf("bank policies: %v", err)
	}
	g := &Gateway{cfg: cfg}
	for i, r := range cfg.Gateway.Routes {
		g.routes = append(g.routes, &route{name: config.RouteName(i), pattern: cfg.RoutePattern(i), auth: r.Auth != "none", fold: r.CaseInsensitive})
	}
	return &spellingWorld{g: g, engine: engine}
}

// decided runs a request-target through what the gateway does before authentication —
// the wire parser, proxy.Canonical, routing — and returns the route and the path every
// later step (and the service) sees, or ok=false when the request is refused.
func (w *spellingWorld) decided(target string) (rt *route, p string, ok bool) {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: bank\r\n\r\n")))
	if err != nil {
		return nil, "", false
	}
	h := proxy.Canonical(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if got, routed := w.g.resolve(rw, r); routed {
			rt, p = got, r.URL.Path
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), req)
	return rt, p, rt != nil
}

// allows is the policy decision for user (nil: anonymous) on the canonical path p.
func (w *spellingWorld) allows(user *authz.User, p string) bool {
	req := authz.UserRequest{Method: http.MethodGet, Path: p}
	if user != nil {
		req.User = *user
	}
	return w.engine.DecideUser(req).Allow
}

// liberal is how a lax service might read a path the gateway accepted: decoded once more,
// backslashes as slashes, ";" parameters dropped, dot segments resolved, doubled slashes
// merged — and lower-cased behind a case-insensitive route.
func liberal(p string, fold bool) string {
	if d, err := url.PathUnescape(p); err == nil {
		p = d
	}
	p = strings.ReplaceAll(p, `\`, "/")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, ';'); j >= 0 {
			segs[i] = s[:j]
		}
	}
	p = path.Clean("/" + strings.Join(segs, "/"))
	if fold {
		p = strings.ToLower(p)
	}
	return p
}

var (
	alice = &authz.User{Name: "alice", Roles: []string{"customer"}}
	tina  = &authz.User{Name: "tina", Roles: []string{"teller"}}
)

// checkSpelling is the property: a spelling is refused, or the policy decision on the
// path the gateway forwards is also the decision on every reading of it a lax service
// could make — no spelling turns a deny into an allow.
func (w *spellingWorld) checkSpelling(t *testing.T, target string) {
	t.Helper()
	rt, p, ok := w.decided(target)
	if !ok {
		return
	}
	if clean := path.Clean(p); clean != p {
		t.Fatalf("%q: forwarded %q, which is not its own clean form %q", target, p, clean)
	}
	if rt.fold && p != strings.ToLower(p) {
		t.Fatalf("%q: case-insensitive route %s forwards %q, not lower case", target, rt.name, p)
	}
	lax := liberal(p, rt.fold)
	for _, u := range []*authz.User{nil, alice, tina} {
		if w.allows(u, p) && !w.allows(u, lax) {
			t.Fatalf("%q: allowed as %q, but a lax service reads %q, which the policy refuses", target, p, lax)
		}
	}
}

// pathSpellings are the spellings the acceptance test sends to the running gateway too.
var pathSpellings = []struct {
	target string
	want   string // the path forwarded, or "" when refused
}{
	{"/api/accounts/A-1001", "/api/accounts/A-1001"},
	{"/api/accounts/../ledger", ""},
	{"/api/accounts/A-1002/../A-1001", ""},
	{"/api/accounts/A-1001/../A-1002", ""},
	{"/api/accounts/A-1001/..%2fA-1002", ""},
	{"/api/accounts/A-1001/%252e%252e/A-1002", ""},
	{"//api//accounts", ""},
	{"/api/accounts/%2e%2e/ledger", ""},
	{"/api/accounts/%2E%2E/A-1002", ""},
	{"/api/accounts%2FA-1002", ""},
	{"/api/accounts%2fA-1002", ""},
	{"/api/accounts/%252e%252e/ledger", ""},
	{"/api/accounts/%252fA-1002", ""},
	{"/API/ACCOUNTS/A-1002", ""},
	{"/Api/Accounts/A-1001", ""},
	{"/api/accounts/A-1002;x=1", ""},
	{"/api/accounts/..;/ledger", ""},
	{"/api/accounts/A-1002.", "/api/accounts/A-1002."},
	{"/api/accounts/A-1002/", ""},
	{"/api/accounts/000000/", ""},
	{"/api/accounts/A-1002%2e", ""},
	{`/api/accounts\..\ledger`, ""},
	{"/api/accounts/%5c..%5cledger", ""},
	{"/api/accounts/A-1002%09", ""},
	{"/api/accounts/A-1002%20", "/api/accounts/A-1002 "},
	{"/api/accounts/%ff", ""},
	{"/api/accounts/%41-1002", "/api/accounts/A-1002"},
	{"/HELP/Topics", "/help/topics"},
	{"/help/../api/accounts/A-1002", ""},
	{"/HELP/%E2%84%AA", ""},
	{"/ledger/balances/A-1001", ""},
	{"/balances/A-1001", ""},
}

func TestPathSpellings(t *testing.T) {
	w := newSpellingWorld(t)
	for _, tt := range pathSpellings {
		t.Run(tt.target, func(t *testing.T) {
			_, got, _ := w.decided(tt.target)
			if got != tt.want {
				t.Errorf("forwarded path: got %q, want %q", got, tt.want)
			}
			w.checkSpelling(t, tt.target)
		})
	}
	// The policy itself: alice may read her account, not bob's; the ledger is not routed.
	if !w.allows(alice, "/api/accounts/A-1001") || w.allows(alice, "/api/accounts/A-1002") {
		t.Errorf("bank policy: alice on A-1001/A-1002: got %v/%v, want true/false",
			w.allows(alice, "/api/accounts/A-1001"), w.allows(alice, "/api/accounts/A-1002"))
	}
}

// FuzzPathSpelling: for any request-target, the gateway refuses it or decides on a path
// whose laxest reading the policy decides the same way (checkSpelling).
func FuzzPathSpelling(f *testing.F) {
	for _, tt := range pathSpellings {
		f.Add(tt.target)
	}
	w := newSpellingWorld(f)
	f.Fuzz(func(t *testing.T, target string) {
		w.checkSpelling(t, target)
	})
}
