// Package testtransit is the Transit secrets engine HTTP API of HashiCorp Vault (and
// OpenBao), written from Vault's API documentation ("Transit secrets engine (API)"), so that
// the Transit master key can be tested where no Vault server can be built: a contract
// server, as internal/secrets/kvv2_contract_test.go is for KV v2. The key manager's tests,
// the CLI's and e2e's run against it. Never used outside tests.
package testtransit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server serves one mount, with real AES-256-GCM keys (standard library) and key versions:
//
//	POST /v1/<mount>/keys/<name>          create (type aes256-gcm96 default, derived)  200
//	GET  /v1/<mount>/keys/<name>          key configuration                             200 | 404
//	POST /v1/<mount>/keys/<name>/rotate   add a version                                 200 | 404
//	POST /v1/<mount>/keys/<name>/config   min_decryption_version                        200 | 400 | 404
//	POST /v1/<mount>/encrypt/<name>       {plaintext, associated_data} base64 → {ciphertext "vault:vN:…", key_version}
//	                                      a missing key is created (upsert) when the token may create it
//	POST /v1/<mount>/decrypt/<name>       {ciphertext, associated_data} → {plaintext}   200 | 400
//
// Decrypt answers 400 for a missing key ("encryption key not found"), a ciphertext without
// the vault:vN: prefix, a version under min_decryption_version, and one that does not
// authenticate (wrong associated data, another key, tampering). Every error is
// {"errors": [...]}; a token without the capability gets 403 "permission denied", a path
// outside the mount 404. Vault treats PUT like POST.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:PORT, or https with NewTLS).
	URL string
	// Mount is the Transit engine's mount path, "transit".
	Mount string
	// RootToken may do anything.
	RootToken string
	// HTTP is the underlying test server (its Certificate, for TLS).
	HTTP *httptest.Server

	mu        sync.Mutex
	tokens    map[string][]Grant
	keys      map[string]*transitKey
	namespace string // when set, requests must carry it in X-Vault-Namespace
	ignoreAD  bool
	down      bool
}

// Grant gives a token capabilities (read, create, update) on a path under /v1/, or on
// every path below a prefix ending in "*".
type Grant struct {
	Path string
	Caps []string
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// New starts a server on http://127.0.0.1, closed when the test ends.
func New(t testing.TB) *Server { return start(t, httptest.NewServer) }

// NewTLS is New on https, with httptest's certificate (Server.HTTP.Certificate()).
func NewTLS(t testing.TB) *Server { return start(t, httptest.NewTLSServer) }

func start(t testing.TB, serve func(http.Handler) *httptest.Server) *Server {
	ts := &Server{Mount: "transit", RootToken: randomHex(16), tokens: map[string][]Grant{}, keys: map[string]*transitKey{}}
	ts.tokens[ts.RootToken] = []Grant{{"*", []string{"read", "create", "update"}}}
	ts.HTTP = serve(ts)
	ts.URL = ts.HTTP.URL
	t.Cleanup(ts.HTTP.Close)
	return ts
}

// Token mints a token with grants.
func (ts *Server) Token(grants ...Grant) string {
	tok := randomHex(16)
	ts.mu.Lock()
	ts.tokens[tok] = grants
	ts.mu.Unlock()
	return tok
}

// KeyUser returns a least-privilege token: update on <mount>/encrypt/<key> and
// <mount>/decrypt/<key>, and read on <mount>/keys/<key> when readConfig.
func (ts *Server) KeyUser(key string, readConfig bool) string {
	g := []Grant{{ts.Mount + "/encrypt/" + key, []string{"update"}}, {ts.Mount + "/decrypt/" + key, []string{"update"}}}
	if readConfig {
		g = append(g, Grant{ts.Mount + "/keys/" + key, []string{"read"}})
	}
	return ts.Token(g...)
}

// Revoke makes a token unknown: every request with it gets 403.
func (ts *Server) Revoke(token string) {
	ts.mu.Lock()
	delete(ts.tokens, token)
	ts.mu.Unlock()
}

// CreateKey creates an aes256-gcm96 key.
func (ts *Server) CreateKey(name string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.keys[name] == nil {
		k := &transitKey{typ: "aes256-gcm96", minDecrypt: 1}
		k.rotate()
		ts.keys[name] = k
	}
}

// SetNamespace makes the server answer only requests whose X-Vault-Namespace is ns.
func (ts *Server) SetNamespace(ns string) { ts.mu.Lock(); ts.namespace = ns; ts.mu.Unlock() }

// SetIgnoreAD makes the server drop associated_data, as a server too old for it would: a
// fault to inject, not Vault's behaviour.
func (ts *Server) SetIgnoreAD(on bool) { ts.mu.Lock(); ts.ignoreAD = on; ts.mu.Unlock() }

// SetSealed makes every request answer 503 "Vault is sealed" (on) or be served again.
func (ts *Server) SetSealed(on bool) { ts.mu.Lock(); ts.down = on; ts.mu.Unlock() }

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (ts *Server) allowed(token, path, capability string) bool {
	for _, g := range ts.tokens[token] {
		prefix, wild := strings.CutSuffix(g.Path, "*")
		if (g.Path == path || wild && strings.HasPrefix(path, prefix)) && contains(g.Caps, capability) {
			return true
		}
	}
	return false
}

func transitErrors(w http.ResponseWriter, status int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": errs})
}

func transitData(w http.ResponseWriter, data any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"request_id": randomHex(16), "lease_id": "", "renewable": false,
		"lease_duration": 0, "data": data, "wrap_info": nil, "warnings": nil, "auth": nil})
}

// ServeHTTP serves the API, one request at a time.
func (ts *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.down {
		transitErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	rest, ok := strings.CutPrefix(path, ts.Mount+"/")
	if !ok {
		transitErrors(w, http.StatusNotFound, "no handler for route \""+path+"\". route entry not found.")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			transitErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	op, name, _ := strings.Cut(rest, "/")
	name, sub, _ := strings.Cut(name, "/")
	k := ts.keys[name]
	capability := "update"
	switch {
	case r.Method == http.MethodGet:
		capability = "read"
	case op == "keys" && sub == "" && k == nil, op == "encrypt" && k == nil:
		capability = "create" // Vault's existence check: a write to a missing key creates it
	}
	if r.Header.Get("X-Vault-Namespace") != ts.namespace || !ts.allowed(r.Header.Get("X-Vault-Token"), path, capability) {
		transitErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	switch {
	case op == "keys" && sub == "" && r.Method == http.MethodGet:
		if k == nil {
			transitErrors(w, http.StatusNotFound)
			return
		}
		transitData(w, k.info(name))
	case op == "keys" && sub == "":
		ts.create(w, name, body)
	case op == "keys" && k == nil:
		transitErrors(w, http.StatusNotFound)
	case op == "keys" && sub == "rotate":
		k.rotate()
		transitData(w, k.info(name))
	case op == "keys" && sub == "config":
		ts.config(w, name, k, body)
	case op == "encrypt":
		ts.encrypt(w, name, body)
	case op == "decrypt":
		ts.decrypt(w, k, body)
	default:
		transitErrors(w, http.StatusNotFound, "no handler for route \""+path+"\". route entry not found.")
	}
}
