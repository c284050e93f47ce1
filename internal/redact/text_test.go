package redact

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "payment posted", "payment posted"},
		{"visa", "card 4111111111111111 declined", "card [card ****1111] declined"},
		{"visa with spaces", "number=4111 1111 1111 1111.", "number=[card ****1111]."},
		{"amex with dashes", "3782-822463-10005", "[card ****0005]"},
		{"json number", `{"n":5555555555554444}`, `{"n":[card ****4444]}`},
		{"luhn fails", "4111111111111112", "4111111111111112"},
		{"too short", "411111111111", "411111111111"},
		{"unix nanos", "1763912345123456789", "1763912345123456789"},
		{"glued to letters", "req 9f4111111111111111a", "req 9f4111111111111111a"},
		{"after underscore", "card_4111111111111111", "card_[card ****1111]"},
		{"two separators", "4111--1111111111111", "4111--1111111111111"},
		{"ssn", "id 123-45-6789 found", "id [national-id] found"},
		{"bank national id", "ZZ-123-45-6789", "[national-id]"},
		{"email", "mail alice@example.com now", "mail [email] now"},
		{"key=value", "password=hunter2&user=bob", "password=[redacted]&user=bob"},
		{"json key", `{"client_secret":"s3cr\"et","id":"x"}`, `{"client_secret":"[redacted]","id":"x"}`},
		{"header", "Authorization: Bearer abc.def", "Authorization: [redacted] [redacted]"},
		{"jwt", "tok eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln end", "tok [redacted] end"},
		{"harmless key", "key_id=12 token_type=Bearer", "key_id=12 token_type=Bearer"},
		{"our own words", "no bearer token; Basic scheme refused", "no bearer token; Basic scheme refused"},
		{"a word that is not ours", "Bearer hunter2 and basic Tokens", "Bearer [redacted] and basic [redacted]"},
		{"time is no pair", "at 15:49:48", "at 15:49:48"},
		{"request id", "request_id=0f3c5b6a4111111111111111a2b3", "request_id=0f3c5b6a4111111111111111a2b3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "Authorization": true, "X-Api-Key": true, "clientSecret": true,
		"Set-Cookie": true, "refresh_token": true, "key": true, "session.id": false,
		"key_id": false, "token_type": false, "request_id": false, "user": false,
		"monkey": false, "tokens_issued": false, "": false,
	} {
		if got := SecretKey(key); got != want {
			t.Errorf("SecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111": true, "79927398713": true, "79927398710": false,
		"": false, "4111a11111111111": false, "0": true,
	} {
		if got := Luhn(s); got != want {
			t.Errorf("Luhn(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzString checks that masking never panics, is idempotent, and leaves no card number
// standing alone in its output.
func FuzzString(f *testing.F) {
	for _, s := range []string{"4111111111111111", "4111 1111 1111 1111", "password=x", `{"token":"a"}`,
		"alice@example.com", "ZZ-123-45-6789", "Bearer x", "eyJa.eyJb.c", "a=b:c=d", "4-1-1-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := String(s)
		if twice := String(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
		for i := 0; i < len(once); i++ {
			if !isDigit(once[i]) || (i > 0 && isWordByte(once[i-1])) {
				continue
			}
			end, ds := scanRun(once, i)
			if (end >= len(once) || !isWordByte(once[end])) && IsCardNumber(ds) {
				t.Fatalf("card number %q left in %q (input %q)", ds, once, s)
			}
			i = end
		}
		if strings.Contains(s, "@") && emailRE.MatchString(once) {
			t.Fatalf("e-mail left in %q (input %q)", once, s)
		}
	})
}
