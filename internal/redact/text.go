package redact

import (
	"regexp"
	"strings"
)

// Replacements, fixed so tests and operators can search for them.
const (
	maskedNationalID = "[national-id]"
	maskedEmail      = "[email]"
	maskedSecret     = "[redacted]"
)

// secretWords are key segments that mark a secret-bearing field. A key is split at '_', '-',
// '.' and case changes, so "api_key", "X-Api-Key", "clientSecret" and "Set-Cookie" all match.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "passphrase": true, "secret": true,
	"token": true, "authorization": true, "auth": true, "cookie": true, "key": true,
	"apikey": true, "credential": true, "credentials": true, "session": true,
	"bearer": true, "jwt": true, "pin": true, "cvv": true, "cvc": true, "otp": true,
	"signature": true, "private": true, "pan": true, "plaintext": true,
}

// harmlessSuffixes end keys that name a secret but do not hold it: "key_id", "token_type",
// "secret_version". Their values are still scanned like any text.
var harmlessSuffixes = map[string]bool{
	"id": true, "ids": true, "version": true, "versions": true, "type": true, "kind": true,
	"count": true, "name": true, "path": true, "ttl": true, "expiry": true, "expires": true,
	"hmac": true, "len": true, "length": true, "purpose": true, "file": true, "rotation": true,
}

// SecretKey reports whether a field named key holds a secret value. It runs for every
// attribute of every log line, so it does not allocate: each word is lower-cased into a
// buffer on the stack and looked up from there.
func SecretKey(key string) bool {
	secret, lastHarmless, seen := false, false, false
	word := func(w string) {
		var buf [32]byte // longer than any listed word: matches nothing
		seen = true
		if len(w) > len(buf) {
			lastHarmless = false
			return
		}
		lw := buf[:len(w)]
		for i := 0; i < len(w); i++ {
			c := w[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			lw[i] = c
		}
		secret = secret || secretWords[string(lw)]
		lastHarmless = harmlessSuffixes[string(lw)]
	}
	splitKey(key, word)
	return seen && secret && !lastHarmless
}

// splitKey calls word with each word of key, split at punctuation and lower→upper changes.
func splitKey(key string, word func(string)) {
	start := 0
	flush := func(end int) {
		if end > start {
			word(key[start:end])
		}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ' || c == '/' || c == ':':
			flush(i)
			start = i + 1
		case i > start && c >= 'A' && c <= 'Z' && key[i-1] >= 'a' && key[i-1] <= 'z':
			flush(i)
			start = i
		}
	}
	flush(len(key))
}

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// A US SSN shape, alone or behind a two-letter country prefix ("ZZ-123-45-6789").
	nationalIDRE = regexp.MustCompile(`\b(?:[A-Za-z]{2}-?)?[0-9]{3}-[0-9]{2}-[0-9]{4}\b`)
	jwtRE        = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`)
	bearerRE     = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/\-]+=*`)
	// key=value, key: value and "key":"value" where key is any word; the callback keeps the
	// pair when the key is not secret-bearing.
	pairRE = regexp.MustCompile(`("?)([A-Za-z][A-Za-z0-9_.\-]{0,63})("?)(\s*[=:]\s*)(\[redacted\]|"(?:[^"\\]|\\.)*"|[^\s"&,;}\]]+)`)
)

// String returns s with every card number, national id, e-mail address, bearer credential,
// JWT and value of a secret-bearing key=value pair masked. Strings with nothing to mask are
// returned as they are, without allocating.
func String(s string) string {
	if !mayHold(s) {
		return s
	}
	// Credentials first: "Authorization: Bearer x" must lose x before the pair rule,
	// which stops at the space, masks "Bearer".
	if hasFold(s, "bearer") || hasFold(s, "basic") {
		s = bearerRE.ReplaceAllStringFunc(s, maskCredential)
	}
	if strings.Contains(s, "eyJ") {
		s = jwtRE.ReplaceAllString(s, maskedSecret)
	}
	if pairCandidate(s) {
		s = pairRE.ReplaceAllStringFunc(s, maskPair)
	}
	if strings.IndexByte(s, '@') >= 0 {
		s = emailRE.ReplaceAllString(s, maskedEmail)
	}
	if digits(s) >= 9 {
		if strings.IndexByte(s, '-') >= 0 { // every national id shape has one
			s = nationalIDRE.ReplaceAllString(s, maskedNationalID)
		}
		s = maskCards(s)
	}
	return s
}

// mayHold is the fast path: most log strings are short words, paths and ids that hold none
// of the shapes above.
func mayHold(s string) bool {
	if strings.IndexByte(s, '@') >= 0 || pairCandidate(s) || digits(s) >= 9 {
		return true
	}
	return strings.Contains(s, "eyJ") || hasFold(s, "bearer") || hasFold(s, "basic")
}

// pairCandidate reports whether pairRE could match s: some '=' or ':' is preceded, across
// optional blanks and a closing quote, by a run of key characters holding a letter (a key
// starts with one). "127.0.0.1:50412" and "[::1]:8443" have none, so the regexp is not run
// on every address a log line carries.
func pairCandidate(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '=' && s[i] != ':' {
			continue
		}
		j := i
		for j > 0 && isBlank(s[j-1]) {
			j--
		}
		if j > 0 && s[j-1] == '"' {
			j--
		}
		for k := j; k > 0 && isKeyByte(s[k-1]); k-- {
			if c := s[k-1]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				return true
			}
		}
	}
	return false
}

// isBlank is RE2's \s: what pairRE allows around the separator.
func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// isKeyByte is a character of pairRE's key.
func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '.' || c == '-'
}

// schemeWords are the words that follow "bearer" or "basic" in Bulwark's own messages
// ("no bearer token", "basic scheme"); any other word there is taken for a credential.
var schemeWords = map[string]bool{
	"token": true, "tokens": true, "scheme": true, "auth": true, "authentication": true,
	"authorization": true, "credential": true, "credentials": true, "realm": true,
	"challenge": true, "header": true,
}

func maskCredential(m string) string {
	i := strings.IndexAny(m, " \t\r\n\v\f")
	scheme, cred := m[:i], strings.TrimLeft(m[i:], " \t\r\n\v\f")
	if schemeWords[cred] {
		return m
	}
	return scheme + " " + maskedSecret
}

func maskPair(m string) string {
	sub := pairRE.FindStringSubmatch(m)
	if sub == nil || !SecretKey(sub[2]) || sub[5] == maskedSecret {
		return m
	}
	v := maskedSecret
	if strings.HasPrefix(sub[5], `"`) {
		v = `"` + maskedSecret + `"`
	}
	return sub[1] + sub[2] + sub[3] + sub[4] + v
}

func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// hasFold reports whether s contains the lower-case ASCII word w in any case.
func hasFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}
