package e2e

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
	"github.com/bulwark-security/bulwark/internal/identity"
)

// e2ePAN is a test card number (Mastercard's published test PAN) no other test uses.
const e2ePAN = "5555555555554444"

type accountProfile struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	NationalID string `json:"national_id"`
}

func getProfile(t *testing.T, token, id string) accountProfile {
	t.Helper()
	status, body, _ := call(t, "GET", "/api/accounts/"+id, token, nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /api/accounts/%s: status %d, body %s", id, status, body)
	}
	var p accountProfile
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCardsTokensAndPIIAtRest registers a card through the gateway, pays with its token,
// checks what owner and teller see, that detokenizing without a grant is refused and
// audited, and then that no card number or seeded PII is anywhere in the state dir (every
// file, SQLite databases and WALs included, as raw bytes) or in what `up` printed.
func TestCardsTokensAndPIIAtRest(t *testing.T) {
	alice, bob, tina := tokenFor(t, "alice"), tokenFor(t, "bob"), tokenFor(t, "tina")

	status, body, _ := call(t, "POST", "/api/cards", alice, map[string]string{"number": e2ePAN, "expiry": "12/39"}, nil)
	if status != http.StatusCreated {
		t.Fatalf("POST /api/cards: status %d, body %s", status, body)
	}
	var card struct {
		Token string `json:"token"`
		Last4 string `json:"last4"`
	}
	if err := json.Unmarshal(body, &card); err != nil {
		t.Fatal(err)
	}
	if card.Last4 != "4444" || !strings.HasPrefix(card.Token, "tok_card_") || strings.Contains(card.Token, e2ePAN) {
		t.Fatalf("card answer %s: want a card token and last4 4444", body)
	}
	status, body, _ = call(t, "POST", "/api/cards", alice, map[string]string{"number": "5555555555554445", "expiry": "12/39"}, nil)
	if status != http.StatusBadRequest || bytes.Contains(body, []byte("5555555555554445")) {
		t.Errorf("card failing Luhn: status %d, body %s; want 400 without the number", status, body)
	}
	status, body, _ = call(t, "POST", "/api/payments", alice, map[string]any{"card": card.Token, "to": "A-1002", "amount": 7}, nil)
	if status != http.StatusCreated {
		t.Fatalf("pay with card token: status %d, body %s", status, body)
	}
	status, body, _ = call(t, "POST", "/api/payments", bob, map[string]any{"card": card.Token, "to": "A-1001", "amount": 7}, nil)
	if status != http.StatusForbidden {
		t.Errorf("bob paying with alice's card token: status %d, body %s; want 403", status, body)
	}

	// The owner sees the whole national id, a teller its last four digits.
	own := map[string]accountProfile{"A-1001": getProfile(t, alice, "A-1001"), "A-1002": getProfile(t, bob, "A-1002")}
	for id, p := range own {
		if p.Name == "" || !strings.Contains(p.Email, "@") || len(p.NationalID) < 8 {
			t.Fatalf("owner's view of %s = %+v: want name, email and national id", id, p)
		}
		seen := getProfile(t, tina, id)
		last4 := p.NationalID[len(p.NationalID)-4:]
		if seen.NationalID == p.NationalID || !strings.HasSuffix(seen.NationalID, last4) ||
			strings.Trim(seen.NationalID[:len(seen.NationalID)-4], "*-") != "" {
			t.Errorf("teller's view of %s national id = %q, want it masked to …%s", id, seen.NationalID, last4)
		}
		if seen.Name != p.Name || seen.Email != p.Email {
			t.Errorf("teller's view of %s = %+v, want name and email %q %q", id, seen, p.Name, p.Email)
		}
	}

	// payments may tokenize cards but holds no detokenize grant: refused and audited.
	svid, bundle := svidFor(t, "payments")
	cc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: identity.ClientTLS(svid, bundle, spiffeid.RequireFromString(env.ep.Control.SPIFFEID))}}
	resp, err := cc.Post("https://"+env.ep.Control.MTLSAddr+"/v1/tokens/detokenize", "application/json",
		strings.NewReader(`{"token":"`+card.Token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("detokenize by payments: status %d, want 403", resp.StatusCode)
	}
	// Exactly one event for the call, every field asserted (no token, no card number).
	rid := resp.Header.Get("X-Request-Id")
	var evs []audit.Event
	waitFor(t, "the tokenization deny event of payments' detokenize", func() bool {
		evs = nil
		for _, e := range auditQuery(t, "--kind", "tokenization") {
			if rid != "" && e.RequestID == rid {
				evs = append(evs, e)
			}
		}
		return len(evs) > 0
	})
	audittest.Equal(t, evs, []audit.Event{{Kind: audit.KindTokenization, Component: "control", Outcome: audit.Deny,
		Reason: "detokenize card: no grant for payments", RequestID: rid, Caller: env.ep.Services["payments"].SPIFFEID}})

	// Nothing seeded or sent in clear is anywhere at rest or in the output.
	values := []string{e2ePAN, "5555 5555 5555 4444", "5555-5555-5555-4444"}
	for _, p := range own {
		values = append(values, p.Name, p.Email, p.NationalID)
	}
	var files int
	err = filepath.WalkDir(env.state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds %q in clear", path, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("walked %d files in the state dir: too few to mean anything", files)
	}
	for where, text := range map[string]string{"stdout": env.up.Stdout(), "stderr": env.up.Stderr()} {
		for _, v := range values {
			if strings.Contains(text, v) {
				t.Errorf("%s holds %q", where, v)
			}
		}
	}
}
