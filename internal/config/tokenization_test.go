package config

import (
	"strings"
	"testing"
)

func TestTokenization(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(minimal+`tokenization:
  keep_last4: [card]
  grants:
    - caller: accounts
      tokenize: [card, national_id]
    - caller: ledger
      detokenize: [card]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		op, svc, kind, rule string
		ok                  bool
	}{
		{"tokenize", "accounts", "card", "tokenization.grants[0]", true},
		{"tokenize", "accounts", "national_id", "tokenization.grants[0]", true},
		{"detokenize", "accounts", "card", "", false},
		{"detokenize", "ledger", "card", "tokenization.grants[1]", true},
		{"detokenize", "ledger", "national_id", "", false},
		{"tokenize", "ledger", "card", "", false},
		{"detokenize", "payments", "card", "", false},
	} {
		may := c.Tokenization.MayTokenize
		if tt.op == "detokenize" {
			may = c.Tokenization.MayDetokenize
		}
		if rule, ok := may(tt.svc, tt.kind); ok != tt.ok || rule != tt.rule {
			t.Errorf("%s %s by %s = %q, %v; want %q, %v", tt.op, tt.kind, tt.svc, rule, ok, tt.rule, tt.ok)
		}
	}
	if c, err := Parse("bulwark.yaml", []byte(minimal)); err != nil || len(c.Tokenization.Grants) != 0 {
		t.Errorf("default: %+v, %v; want no grants", c.Tokenization, err)
	}

	_, err = Parse("bulwark.yaml", []byte(minimal+`tokenization:
  keep_last4: [iban]
  grants:
    - caller: payments
      tokenize: [card]
      detokenize: [pan]
`))
	for _, want := range []string{
		"tokenization.keep_last4[0]: unknown token kind \"iban\"",
		"tokenization.grants[0].caller: unknown service \"payments\"",
		"tokenization.grants[0].detokenize[0]: unknown token kind \"pan\"",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("invalid tokenization: error %v, want it to say %q", err, want)
		}
	}
}
