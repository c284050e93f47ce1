package tokenize

import (
	"errors"
	"regexp"
	"strings"

	"github.com/bulwark-security/bulwark/internal/redact"
)

// Token kinds.
const (
	KindCard       = "card"
	KindNationalID = "national_id"
)

var (
	// ErrInvalidValue is a value that is not of its kind; its message is safe to show.
	ErrInvalidValue = errors.New("value is not valid for its kind")
	nationalIDRE    = regexp.MustCompile(`^[A-Z0-9]{4,32}$`)
	tokenRE         = regexp.MustCompile(`^tok_(card|nid)_[A-Z2-7]{26}(_[0-9]{4})?$`)
)

// tokenPrefix is the kind's part of a token.
var tokenPrefix = map[string]string{KindCard: "card", KindNationalID: "nid"}

// normalize returns the canonical form of value (what the lookup HMAC covers) and its last
// four digits, or ErrInvalidValue. A card number may carry spaces or dashes between its
// digits and must pass Luhn; a national id is 4 to 32 letters and digits after spaces and
// dashes are dropped and letters upper-cased, with at least four digits.
func normalize(kind, value string) (canon, last4 string, err error) {
	if len(value) > 64 {
		return "", "", ErrInvalidValue
	}
	stripped := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, value)
	switch kind {
	case KindCard:
		if !redact.IsCardNumber(stripped) {
			return "", "", ErrInvalidValue
		}
		return stripped, stripped[len(stripped)-4:], nil
	case KindNationalID:
		up := strings.ToUpper(stripped)
		if !nationalIDRE.MatchString(up) {
			return "", "", ErrInvalidValue
		}
		var ds []byte
		for i := 0; i < len(up); i++ {
			if up[i] >= '0' && up[i] <= '9' {
				ds = append(ds, up[i])
			}
		}
		if len(ds) < 4 {
			return "", "", ErrInvalidValue
		}
		return up, string(ds[len(ds)-4:]), nil
	}
	return "", "", ErrInvalidValue
}

// KindOf returns the kind a well-formed token belongs to, or false.
func KindOf(token string) (string, bool) {
	m := tokenRE.FindStringSubmatch(token)
	if m == nil {
		return "", false
	}
	for k, p := range tokenPrefix {
		if p == m[1] {
			return k, true
		}
	}
	return "", false
}
