package secrets

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestPatternMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"payments/webhook-key", "payments/webhook-key", true},
		{"payments/webhook-key", "payments/webhook-key2", false},
		{"payments/webhook-key", "payments", false},
		{"payments/*", "payments/webhook-key", true},
		{"payments/*", "payments", false},
		{"payments/*", "payments/a/b", false},
		{"payments/*", "paymentsx/a", false},
		{"payments/*", "Payments/a", false}, // case-sensitive, like Vault
		{"payments/**", "payments/a", true},
		{"payments/**", "payments/a/b/c", true},
		{"payments/**", "payments", false},
		{"*/db", "ledger/db", true},
		{"*/db", "ledger/db/x", false},
		{"**", "anything/at/all", true},
		{"payments/*", "payments/../accounts", false},
		{"payments/*", "payments/", false},
		{"payments/*", "payments//x", false},
		{"payments/*", "", false},
	} {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got := p.Match(tt.path); got != tt.want {
			t.Errorf("%q matches %q: got %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
	if (Pattern{}).Match("a") || (Pattern{}).MatchFolder("") {
		t.Error("the zero Pattern must match nothing")
	}
}

func TestPatternMatchFolder(t *testing.T) {
	for _, tt := range []struct {
		pattern, folder string
		want            bool
	}{
		{"payments/*", "payments", true},
		{"payments/**", "payments", true},
		{"payments/**", "payments/deep", true},
		{"payments/*", "payments/deep", false},
		{"payments/webhook-key", "payments", false}, // a literal names one secret, not a folder
		{"payments/*", "", false},
		{"*", "", true},
		{"**", "", true},
		{"**", "a/b", true},
		{"*/keys", "ledger", false},
	} {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got := p.MatchFolder(tt.folder); got != tt.want {
			t.Errorf("%q lists %q: got %v, want %v", tt.pattern, tt.folder, got, tt.want)
		}
	}
}

func TestParsePatternRefuses(t *testing.T) {
	for _, bad := range []string{"", "/a", "a/", "a//b", "a/**/b", "a/b*", "a/*b", "a/./b", "a/../b", "a/b c", "a/%2e"} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q): got nil error", bad)
		}
	}
}

func TestGrantsDenyByDefault(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("bank.local")
	payments := spiffeid.RequireFromSegments(td, "svc", "payments")
	ledger := spiffeid.RequireFromSegments(td, "svc", "ledger")
	other := spiffeid.RequireFromSegments(spiffeid.RequireTrustDomainFromString("evil.local"), "svc", "payments")
	p, _ := ParsePattern("payments/*")
	g := NewGrants([]Grant{{ID: payments, Pattern: p, Access: []Access{Read}, Rule: "services[1].secrets[0]"}})
	for _, tt := range []struct {
		name   string
		id     spiffeid.ID
		access Access
		path   string
		want   bool
	}{
		{"granted read", payments, Read, "payments/k", true},
		{"write not granted", payments, Write, "payments/k", false},
		{"list not granted", payments, List, "payments", false},
		{"other path", payments, Read, "accounts/k", false},
		{"other service", ledger, Read, "payments/k", false},
		{"same name, other trust domain", other, Read, "payments/k", false},
		{"no identity", spiffeid.ID{}, Read, "payments/k", false},
	} {
		rule, ok := g.Allow(tt.id, tt.access, tt.path)
		if ok != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, ok, tt.want)
		}
		if ok && rule != "services[1].secrets[0]" {
			t.Errorf("%s: rule %q", tt.name, rule)
		}
	}
	var none *Grants
	if _, ok := none.Allow(payments, Read, "payments/k"); ok {
		t.Error("nil Grants must deny")
	}
}
