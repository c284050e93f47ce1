package envelope

import (
	"bytes"
	"testing"
	"time"
)

// TestBoundADSeparatesNames: the associated data differs for every service, purpose and
// record, including splits of the same bytes, so one key could not open another's data.
func TestBoundADSeparatesNames(t *testing.T) {
	type in struct{ svc, purpose, ad string }
	pairs := [][2]in{
		{{"accounts", "pii", "r"}, {"payments", "pii", "r"}},
		{{"accounts", "pii", "r"}, {"accounts", "tokens", "r"}},
		{{"accounts", "pii", "r"}, {"accounts", "pii", "s"}},
		{{"a", "bc", ""}, {"ab", "c", ""}},
		{{"a", "b", "c"}, {"a", "bc", ""}},
	}
	for _, p := range pairs {
		a := boundAD(p[0].svc, p[0].purpose, []byte(p[0].ad))
		b := boundAD(p[1].svc, p[1].purpose, []byte(p[1].ad))
		if bytes.Equal(a, b) {
			t.Errorf("%+v and %+v give the same associated data", p[0], p[1])
		}
	}
	// With one data key, the associated data alone must keep the names apart.
	st, err := newKeyset(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		ct, err := st.aead.Encrypt([]byte("x"), boundAD(p[0].svc, p[0].purpose, []byte(p[0].ad)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.aead.Decrypt(ct, boundAD(p[1].svc, p[1].purpose, []byte(p[1].ad))); err == nil {
			t.Errorf("ciphertext for %+v decrypts as %+v", p[0], p[1])
		}
	}
}
