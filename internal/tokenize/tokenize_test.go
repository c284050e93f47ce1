package tokenize

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

func testLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

const pan = "4111111111111111"

func TestVaultTokenizeIsDeterministicAndEncrypted(t *testing.T) {
	v, _, path := openVault(t, KindCard)
	ctx := context.Background()
	a, err := v.Tokenize(ctx, KindCard, pan)
	if err != nil {
		t.Fatal(err)
	}
	if a.Last4 != "1111" || !tokenRE.MatchString(a.Token) || a.Token[len(a.Token)-5:] != "_1111" {
		t.Fatalf("token = %+v, want a card token ending _1111 with last4 1111", a)
	}
	b, err := v.Tokenize(ctx, KindCard, "4111-1111-1111-1111")
	if err != nil || b.Token != a.Token {
		t.Errorf("same card with dashes: %+v, %v; want token %s", b, err, a.Token)
	}
	other, err := v.Tokenize(ctx, KindCard, "5555555555554444")
	if err != nil || other.Token == a.Token {
		t.Errorf("other card: %+v, %v; want a different token", other, err)
	}
	nid, err := v.Tokenize(ctx, KindNationalID, "ZZ-123-45-6789")
	if err != nil || nid.Last4 != "" || len(nid.Token) != len("tok_nid_")+26 {
		t.Errorf("national id without keep_last4: %+v, %v; want no last four", nid, err)
	}
	got, err := v.Detokenize(ctx, a.Token)
	if err != nil || got != pan {
		t.Errorf("Detokenize = %q, %v; want the card number", got, err)
	}
	if _, err := v.Detokenize(ctx, "tok_card_AAAAAAAAAAAAAAAAAAAAAAAAAA_1111"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown token: %v, want ErrNotFound", err)
	}
	// The file holds neither the card number nor the national id.
	v.Close()
	for _, f := range []string{path, path + "-wal"} {
		raw, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, clear := range []string{pan, "ZZ-123-45-6789"} {
			if bytes.Contains(raw, []byte(clear)) {
				t.Errorf("%s holds %q in clear", filepath.Base(f), clear)
			}
		}
	}
}

// TestVaultValueBoundToToken: a ciphertext moved to another token's row does not open.
func TestVaultValueBoundToToken(t *testing.T) {
	v, _, _ := openVault(t, KindCard)
	ctx := context.Background()
	a, _ := v.Tokenize(ctx, KindCard, pan)
	b, _ := v.Tokenize(ctx, KindCard, "5555555555554444")
	if _, err := v.db.Exec(`UPDATE tokens SET value = (SELECT value FROM tokens WHERE token = ?) WHERE token = ?`, a.Token, b.Token); err != nil {
		t.Fatal(err)
	}
	if got, err := v.Detokenize(ctx, b.Token); err == nil {
		t.Errorf("moved ciphertext opened as %q", got)
	}
}

func TestVaultRefusesInvalidValues(t *testing.T) {
	v, _, _ := openVault(t)
	for _, tt := range []struct{ kind, value string }{
		{KindCard, "4111111111111112"}, // Luhn
		{KindCard, "4111 1111"},
		{KindCard, "411111111111111a"},
		{KindCard, ""},
		{KindNationalID, "ABCDEFG"}, // no four digits
		{KindNationalID, "ZZ/123"},
		{"iban", "DE44500105175407324931"},
	} {
		if tok, err := v.Tokenize(context.Background(), tt.kind, tt.value); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Tokenize(%s, %q) = %+v, %v; want ErrInvalidValue", tt.kind, tt.value, tok, err)
		}
	}
	var n int
	if err := v.db.QueryRow(`SELECT count(*) FROM tokens`).Scan(&n); err != nil || n != 0 {
		t.Errorf("tokens stored after refusals: %d (%v), want 0", n, err)
	}
}

// TestAPIGrantsOverMTLS runs the tokens API on the control-plane server over real mTLS:
// each caller is named by its SVID, and only grants decide. Every call is audited, and the
// stored events are asserted whole: the request id is the caller's (sent as X-Request-Id),
// and no event holds the card number or a token.
func TestAPIGrantsOverMTLS(t *testing.T) {
	client, rec := apiServer(t)
	call := func(id string) context.Context { return proxy.WithRequestID(context.Background(), id) }
	tok, err := client("payments").Tokenize(call("r1"), KindCard, pan)
	if err != nil {
		t.Fatalf("payments tokenize: %v", err)
	}
	if _, err := client("notifications").Tokenize(call("r2"), KindCard, pan); !errors.Is(err, ErrForbidden) {
		t.Errorf("notifications tokenize: %v, want ErrForbidden", err)
	}
	if _, err := client("payments").Tokenize(call("r3"), KindNationalID, "ZZ-123-45-6789"); !errors.Is(err, ErrForbidden) {
		t.Errorf("payments tokenize national id: %v, want ErrForbidden", err)
	}
	if _, err := client("payments").Tokenize(call("r4"), KindCard, "4111111111111112"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("payments tokenize a bad number: %v, want ErrInvalidValue", err)
	}
	if v, err := client("payments").Detokenize(call("r5"), tok.Token); !errors.Is(err, ErrForbidden) || v != "" {
		t.Errorf("payments detokenize = %q, %v; want ErrForbidden", v, err)
	}
	if v, err := client("clearing").Detokenize(call("r6"), tok.Token); err != nil || v != pan {
		t.Errorf("clearing detokenize = %q, %v; want the card number", v, err)
	}
	if _, err := client("clearing").Detokenize(call("r7"), "tok_card_AAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrNotFound) {
		t.Errorf("clearing detokenize unknown token: %v, want ErrNotFound", err)
	}

	ev := func(id, outcome, caller, reason, rule string) audit.Event {
		return audit.Event{Kind: audit.KindTokenization, Component: "control", Outcome: outcome, Reason: reason,
			Rule: rule, RequestID: id, Caller: "spiffe://bank.local/svc/" + caller}
	}
	audittest.Equal(t, audittest.Read(t, rec.path), []audit.Event{
		ev("r1", audit.Allow, "payments", "tokenize card", "tokenization.grants[0]"),
		ev("r2", audit.Deny, "notifications", "tokenize card: no grant for notifications", ""),
		ev("r3", audit.Deny, "payments", "tokenize national_id: no grant for payments", ""),
		ev("r4", audit.Allow, "payments", "tokenize card", "tokenization.grants[0]"), // allowed, then refused as invalid
		ev("r5", audit.Deny, "payments", "detokenize card: no grant for payments", ""),
		ev("r6", audit.Allow, "clearing", "detokenize card", "tokenization.grants[1]"),
		ev("r7", audit.Allow, "clearing", "detokenize card", "tokenization.grants[1]"), // allowed, then not found
	})
	raw, err := os.ReadFile(rec.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{pan, tok.Token, "4111111111111112", "ZZ-123-45-6789"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
}

// FuzzNormalize: whatever a caller sends, normalize and KindOf never panic, an accepted
// card passes Luhn, and last4 is four digits of the value.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{pan, "4111 1111 1111 1111", "ZZ-123-45-6789", "", "tok_card_AAAAAAAAAAAAAAAAAAAAAAAAAA_1111", "4-1"} {
		f.Add(KindCard, s)
		f.Add(KindNationalID, s)
	}
	f.Fuzz(func(t *testing.T, kind, value string) {
		KindOf(value)
		canon, last4, err := normalize(kind, value)
		if err != nil {
			return
		}
		var ds []byte
		for i := 0; i < len(canon); i++ {
			if canon[i] >= '0' && canon[i] <= '9' {
				ds = append(ds, canon[i])
			}
		}
		if len(ds) < 4 || last4 != string(ds[len(ds)-4:]) {
			t.Fatalf("normalize(%q, %q) = %q, last4 %q", kind, value, canon, last4)
		}
		if kind == KindCard && !luhnOK(canon) {
			t.Fatalf("accepted card %q fails Luhn", canon)
		}
	})
}

func luhnOK(s string) bool {
	sum, dbl := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if dbl {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum, dbl = sum+d, !dbl
	}
	return sum%10 == 0
}
