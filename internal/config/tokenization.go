package config

import (
	"fmt"
	"slices"
)

// TokenKinds are the kinds of value the control plane tokenizes.
var TokenKinds = []string{"card", "national_id"}

// Tokenization configures the control plane's tokenization API. Deny by default: a service
// may tokenize or detokenize a kind only when a grant names it.
type Tokenization struct {
	// KeepLast4 lists the kinds whose tokens carry the value's last four digits in clear
	// (a card's, as PCI DSS allows), so a UI can say "card ending 4242" without detokenizing.
	KeepLast4 []string `yaml:"keep_last4"`
	// Grants say which service may tokenize and which may detokenize each kind.
	Grants []TokenGrant `yaml:"grants"`
}

// TokenGrant is what one service may do with tokens.
type TokenGrant struct {
	// Caller is the service (its SVID) the grant is for.
	Caller string `yaml:"caller"`
	// Tokenize lists the kinds the caller may turn into tokens.
	Tokenize []string `yaml:"tokenize"`
	// Detokenize lists the kinds whose clear value the caller may get back from a token.
	// Keep it short: every holder of this grant can read every value of the kind.
	Detokenize []string `yaml:"detokenize"`
}

// MayTokenize reports whether service may tokenize kind, and by which rule.
func (t Tokenization) MayTokenize(service, kind string) (rule string, ok bool) {
	return t.find(service, kind, func(g TokenGrant) []string { return g.Tokenize })
}

// MayDetokenize reports whether service may detokenize kind, and by which rule.
func (t Tokenization) MayDetokenize(service, kind string) (rule string, ok bool) {
	return t.find(service, kind, func(g TokenGrant) []string { return g.Detokenize })
}

func (t Tokenization) find(service, kind string, kinds func(TokenGrant) []string) (string, bool) {
	for i, g := range t.Grants {
		if g.Caller == service && slices.Contains(kinds(g), kind) {
			return fmt.Sprintf("tokenization.grants[%d]", i), true
		}
	}
	return "", false
}

func (c *Config) validateTokenization() []error {
	var errs []error
	checkKinds := func(p string, kinds []string) {
		for i, k := range kinds {
			if !slices.Contains(TokenKinds, k) {
				errs = append(errs, c.errAt(fmt.Sprintf("%s[%d]", p, i), "unknown token kind %q; want one of %v", k, TokenKinds))
			}
		}
	}
	checkKinds("tokenization.keep_last4", c.Tokenization.KeepLast4)
	for i, g := range c.Tokenization.Grants {
		p := fmt.Sprintf("tokenization.grants[%d]", i)
		if _, ok := c.Service(g.Caller); !ok {
			errs = append(errs, c.errAt(p+".caller", "unknown service %q", g.Caller))
		}
		checkKinds(p+".tokenize", g.Tokenize)
		checkKinds(p+".detokenize", g.Detokenize)
	}
	return errs
}
