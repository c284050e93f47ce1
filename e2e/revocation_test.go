package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwark-security/bulwark/internal/oidc"
)

// startSecondGateway runs `bulwark gateway` as a second replica against the control plane,
// sidecars and edge certificate of the shared `up`: same public URL (so the same issuer),
// its own listener. It returns the replica's base URL.
func startSecondGateway(t *testing.T) string {
	t.Helper()
	port := freePorts(t, 1)[0]
	cfg := readFile(t, env.cfg)
	cfg = strings.Replace(cfg, "listen: 127.0.0.1:8443", "listen: "+port+"\n  public_url: "+env.ep.Gateway, 1)
	cfg = strings.Replace(cfg, "\nservices:\n", "\ncontrol:\n  address: "+env.ep.Control.MTLSAddr+"\n\nservices:\n", 1)
	cfg = regexp.MustCompile(`(?m)^  - name: ([a-z-]+)$`).ReplaceAllStringFunc(cfg, func(line string) string {
		name := strings.TrimPrefix(line, "  - name: ")
		if s, ok := env.ep.Services[name]; ok {
			return line + "\n    address: " + s.MTLSAddr
		}
		return line
	})
	if !strings.Contains(cfg, "public_url: ") || !strings.Contains(cfg, "address: "+env.ep.Control.MTLSAddr) {
		t.Fatal("could not derive the second gateway's config")
	}
	file := filepath.Join(filepath.Dir(env.cfg), "gateway2.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := startProc(env.bin, "gateway", "-f", file, "--state-dir", env.state,
		"--workload-api", filepath.Join(env.state, "run", "workload", "gateway", "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("second gateway: %v\n%s", err, tail(p.Stderr()))
		}
	})
	waitFor(t, "second gateway", func() bool {
		c, err := tls.Dial("tcp", port, &tls.Config{RootCAs: env.edgePool, MinVersion: tls.VersionTLS12})
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "https://" + port
}

// status sends GET path with token to the gateway at base.
func status(t *testing.T, base, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := edgeClient().Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// TestRevokedTokenRefusedAtEveryGateway revokes an access token at the embedded provider
// (RFC 7009) and measures how long each of two gateways keeps accepting it.
func TestRevokedTokenRefusedAtEveryGateway(t *testing.T) {
	gw2 := startSecondGateway(t)
	gateways := map[string]string{"gateway 1": env.ep.Gateway, "gateway 2": gw2}
	const path = "/api/accounts/A-1001"
	alice := tokenFor(t, "alice")
	other := tokenFor(t, "alice") // same user, another token: must stay valid
	for name, base := range gateways {
		for _, tok := range []string{alice, other} {
			if code, _ := status(t, base, path, tok); code != http.StatusOK {
				t.Fatalf("%s before revocation: got %d, want 200", name, code)
			}
		}
	}

	resp, err := edgeClient().PostForm(env.ep.Issuer+"/revoke", url.Values{"token": {alice}, "token_type_hint": {"access_token"}, "client_id": {"bulwark-cli"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	revokedAt := time.Now()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	took := map[string]time.Duration{}
	for name, base := range gateways {
		wg.Go(func() {
			for time.Since(revokedAt) < 5*time.Second {
				if code, challenge := status(t, base, path, alice); code == http.StatusUnauthorized {
					mu.Lock()
					took[name] = time.Since(revokedAt)
					mu.Unlock()
					if !strings.Contains(challenge, "token revoked") {
						t.Errorf("%s: WWW-Authenticate %q, want the reason token revoked", name, challenge)
					}
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	for name := range gateways {
		d, ok := took[name]
		switch {
		case !ok:
			t.Errorf("%s still accepts the revoked token 5s later", name)
		case d > time.Second:
			t.Errorf("%s refused the revoked token after %v, want within 1s", name, d)
		default:
			t.Logf("%s refuses the revoked token %v after the revocation answer", name, d)
		}
		if code, _ := status(t, gateways[name], path, other); code != http.StatusOK {
			t.Errorf("%s: another token of the same user got %d after the revocation, want 200", name, code)
		}
	}
	if evs := auditLines(t, `"kind":"token"`, `"outcome":"allow"`, `"user":"alice"`); len(evs) == 0 {
		t.Error("no audit event for the revocation")
	}
	if strings.Contains(readFile(t, env.ep.AuditLog), alice) {
		t.Error("the audit log holds the token")
	}
}

// signInOffline signs user in to the public client bulwark-cli with offline_access, the
// way a browser would (code + PKCE), and returns the access and refresh tokens.
func signInOffline(t *testing.T, user string) (access, refresh string) {
	t.Helper()
	creds, err := oidc.ReadDevCredentials(env.state)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: "bulwark-cli", RedirectURL: "http://127.0.0.1/callback",
		Scopes: []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: env.ep.Issuer + "/authorize", TokenURL: env.ep.Issuer + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	hc := edgeClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := oauth2.GenerateVerifier()
	resp, err := hc.Get(conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("id") == "" {
		t.Fatalf("authorize: status %d, want a redirect to the login page", resp.StatusCode)
	}
	// The login form is only taken from the browser that opened its page (a cookie).
	if hc.Jar, err = cookiejar.New(nil); err != nil {
		t.Fatal(err)
	}
	if resp, err = hc.Get(loc.String()); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = hc.PostForm(env.ep.Issuer+"/login", url.Values{"id": {loc.Query().Get("id")}, "username": {user}, "password": {creds.Users[user]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, err = resp.Location(); err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s1" {
		t.Fatalf("login: status %d, want a redirect with a code", resp.StatusCode)
	}
	tok, err := conf.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, hc), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: err %v, refresh token present %v", err, tok != nil && tok.RefreshToken != "")
	}
	return tok.AccessToken, tok.RefreshToken
}

// TestRevokedRefreshTokenRevokesItsAccessTokens revokes a refresh token at the embedded
// provider (RFC 7009 section 2.1) after one rotation: the access tokens obtained from the
// sign-in and from the refresh are then refused at the gateway; another sign-in's are not.
func TestRevokedRefreshTokenRevokesItsAccessTokens(t *testing.T) {
	const path = "/api/accounts/A-1001"
	first, refresh := signInOffline(t, "alice")
	rotated := refreshOffline(t, refresh)
	other := tokenFor(t, "alice") // same user, another grant: must stay valid
	grant := map[string]string{"the sign-in's access token": first, "the refresh's access token": rotated.AccessToken}
	for _, tok := range []string{first, rotated.AccessToken, other} {
		if code, _ := status(t, env.ep.Gateway, path, tok); code != http.StatusOK {
			t.Fatalf("before revocation: got %d, want 200", code)
		}
	}

	revokedEvent := func() int {
		return len(auditLines(t, `"kind":"token"`, `"outcome":"allow"`, `"user":"alice"`,
			"refresh token revoked by client bulwark-cli; 2 access tokens issued from it revoked"))
	}
	before := revokedEvent() // the shared log may hold an earlier run's (go test -count)
	resp, err := edgeClient().PostForm(env.ep.Issuer+"/revoke", url.Values{"token": {rotated.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {"bulwark-cli"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
	for name, tok := range grant {
		waitRevoked(t, name, path, tok)
	}
	if code, _ := status(t, env.ep.Gateway, path, other); code != http.StatusOK {
		t.Errorf("another sign-in's token got %d after the revocation, want 200", code)
	}
	waitFor(t, "the refresh token revocation's audit event", func() bool { return revokedEvent() == before+1 })
	log := readFile(t, env.ep.AuditLog)
	for _, tok := range []string{first, refresh, rotated.AccessToken, rotated.RefreshToken} {
		if strings.Contains(log, tok) {
			t.Error("the audit log holds a token")
		}
	}
}

// tokenResponse is the token endpoint's answer to a refresh.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// refreshOffline redeems a refresh token of bulwark-cli, which must succeed.
func refreshOffline(t *testing.T, refresh string) tokenResponse {
	t.Helper()
	resp, err := edgeClient().PostForm(env.ep.Issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"bulwark-cli"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok tokenResponse
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("refresh: status %d, err %v", resp.StatusCode, err)
	}
	return tok
}

// waitRevoked waits up to 5s for the gateway to refuse the access token tok as revoked.
func waitRevoked(t *testing.T, name, path, tok string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, challenge := status(t, env.ep.Gateway, path, tok)
		if code == http.StatusUnauthorized {
			if !strings.Contains(challenge, "token revoked") {
				t.Errorf("%s: WWW-Authenticate %q, want the reason token revoked", name, challenge)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s still accepted 5s after its grant was revoked (status %d)", name, code)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRevokedGrantOnReplayedRefreshToken presents a refresh token again after its rotation
// (RFC 9700 section 4.14.2): the replay is refused, and it revokes the grant — its access
// tokens are then refused at the gateway and its current refresh token at the provider.
func TestRevokedGrantOnReplayedRefreshToken(t *testing.T) {
	const path = "/api/accounts/A-1001"
	first, refresh := signInOffline(t, "alice")
	rotated := refreshOffline(t, refresh)
	replayEvent := func() int {
		return len(auditLines(t, `"kind":"token"`, `"outcome":"deny"`, `"user":"alice"`,
			"rotated refresh token of client bulwark-cli replayed; its grant revoked with 2 access tokens issued from it"))
	}
	before := replayEvent()                                     // the shared log may hold an earlier run's (go test -count)
	for _, r := range []string{refresh, rotated.RefreshToken} { // the replay, then the live chain
		resp, err := edgeClient().PostForm(env.ep.Issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r}, "client_id": {"bulwark-cli"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("refresh after the replay: status %d, want 400", resp.StatusCode)
		}
	}
	waitRevoked(t, "the sign-in's access token", path, first)
	waitRevoked(t, "the refresh's access token", path, rotated.AccessToken)
	waitFor(t, "the replay's audit event", func() bool { return replayEvent() == before+1 })
}
