package oidc

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

const (
	loginPath    = "/login"
	maxFormBytes = 8 << 10

	// One message for a wrong user name and a wrong password, on purpose.
	msgInvalid      = "Invalid user name or password."
	msgExpired      = "This sign-in request is unknown or has expired. Start again from your application."
	msgTooMany      = "Too many failed attempts. Start again from your application."
	msgLocked       = "Too many failed sign-ins for this user name. Try again in 15 minutes."
	msgBusy         = "Too many sign-ins in progress. Try again in a moment."
	msgBadInput     = "The form could not be read."
	msgOtherBrowser = "This sign-in was started in another browser. Start again from your application."
)

const loginHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Bulwark</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}
main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
label{display:block;margin:1rem 0 .25rem}input{width:100%;box-sizing:border-box;padding:.5rem}
button{margin-top:1.5rem;width:100%;padding:.6rem}.error{color:#a00}
</style>
</head>
<body>
<main>
<h1>Sign in</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .ID}}<form method="post" action="{{.Action}}">
<input type="hidden" name="id" value="{{.ID}}">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>{{end}}
</main>
</body>
</html>
`

type loginData struct {
	Action, ID, Error string
}

// serveLogin shows the login form (GET) and checks it (POST). On success it answers with
// the op's authorization response: a redirect to the client's redirect_uri with the code.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	// No form-action: browsers apply it to the redirect to the client after the POST.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		id := r.URL.Query().Get("id")
		if a, ok := p.st.pending(id); !ok || a.Done() {
			p.renderLogin(w, http.StatusBadRequest, loginData{Error: msgExpired})
			return
		}
		ok, err := p.bindBrowser(w, r, id)
		if err != nil {
			p.log.Error("oidc login page", "error", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if !ok {
			p.renderLogin(w, http.StatusBadRequest, loginData{Error: msgOtherBrowser})
			return
		}
		p.renderLogin(w, http.StatusOK, loginData{ID: id})
	case http.MethodPost:
		p.checkLogin(w, r)
	default:
		h.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) checkLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.renderLogin(w, http.StatusBadRequest, loginData{Error: msgBadInput})
		return
	}
	id := r.PostForm.Get("id")
	a, ok := p.st.pending(id)
	if !ok || a.Done() {
		p.renderLogin(w, http.StatusBadRequest, loginData{Error: msgExpired})
		return
	}
	if !p.sameBrowser(r, id) {
		p.log.Info("oidc login refused: posted from another browser than the one that opened the page", "client_id", a.clientID, "source", proxy.ClientIP(r))
		p.auditLogin(r, audit.Deny, "", "sign-in refused: login form posted from another browser than the one that opened it, client "+a.clientID)
		p.renderLogin(w, http.StatusBadRequest, loginData{Error: msgOtherBrowser})
		return
	}
	name, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	// Both reservations come before the hash, so concurrent POSTs cannot check more
	// passwords than the limits allow.
	if !p.st.beginLogin(id) {
		p.renderLogin(w, http.StatusTooManyRequests, loginData{Error: msgTooMany})
		return
	}
	if !p.names.begin(name) {
		p.st.endLogin(id, unchecked)
		p.log.Info("oidc login refused: user name locked out", "client_id", a.clientID, "source", proxy.ClientIP(r))
		p.auditLogin(r, audit.Deny, p.knownUser(name), "sign-in refused: user name locked out after repeated failures, client "+a.clientID)
		p.renderLogin(w, http.StatusTooManyRequests, loginData{ID: id, Error: msgLocked})
		return
	}
	u, known := p.st.users[name]
	hash := p.st.dummyUser // unknown users cost one argon2id verification too
	if known {
		hash = u.hash
	}
	good, err := p.st.verifier.check(r.Context(), hash, pw)
	if errors.Is(err, errBusy) {
		p.names.end(name, unchecked)
		p.st.endLogin(id, unchecked)
		p.log.Warn("oidc login not checked: no verification slot", "client_id", a.clientID, "source", proxy.ClientIP(r))
		w.Header().Set("Retry-After", "1")
		p.renderLogin(w, http.StatusServiceUnavailable, loginData{ID: id, Error: msgBusy})
		return
	}
	if err != nil || !good || !known {
		p.names.end(name, failed)
		// The attempted user name is not logged: people type passwords into it.
		p.log.Info("oidc login refused", "client_id", a.clientID, "source", proxy.ClientIP(r))
		p.auditLogin(r, audit.Deny, p.knownUser(name), "sign-in refused: invalid user name or password, client "+a.clientID)
		if !p.st.endLogin(id, failed) {
			p.renderLogin(w, http.StatusUnauthorized, loginData{Error: msgTooMany})
			return
		}
		p.renderLogin(w, http.StatusUnauthorized, loginData{ID: id, Error: msgInvalid})
		return
	}
	p.names.end(name, succeeded)
	done, ok := p.st.completeLogin(id, u.name)
	if !ok {
		p.renderLogin(w, http.StatusBadRequest, loginData{Error: msgExpired})
		return
	}
	p.log.Info("oidc login", "user", u.name, "client_id", a.clientID, "source", proxy.ClientIP(r))
	p.auditLogin(r, audit.Allow, u.name, "signed in, client "+a.clientID)
	p.forgetBrowser(w, id)
	op.AuthResponse(done, p.op, w, r.WithContext(op.ContextWithIssuer(r.Context(), p.issuer)))
}

// auditLogin records a sign-in decision (kind authn), so that guessing shows in the audit
// log. The user is named only when it exists: people type passwords into the name field.
// The source is the client the gateway forwarded the sign-in for (proxy.ClientIP), not the
// gateway.
func (p *Provider) auditLogin(r *http.Request, outcome, user, reason string) {
	p.st.recordAudit(r.Context(), audit.Event{Kind: audit.KindAuthn, Component: "control", Outcome: outcome,
		User: user, Source: proxy.ClientIP(r), Method: r.Method, Path: r.URL.Path, Reason: reason})
}

// knownUser returns name when such a user exists, else "".
func (p *Provider) knownUser(name string) string {
	if _, ok := p.st.users[name]; ok {
		return name
	}
	return ""
}

func (p *Provider) renderLogin(w http.ResponseWriter, status int, d loginData) {
	d.Action = p.prefix + loginPath
	var buf bytes.Buffer
	if err := p.page.Execute(&buf, d); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
