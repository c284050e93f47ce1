package envelope

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	gcmpb "github.com/tink-crypto/tink-go/v2/proto/aes_gcm_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// keyMaterial returns the raw AES keys of every keyset m holds in memory: what must never
// be written in clear or shown in an error.
func keyMaterial(t testing.TB, m *Manager) [][]byte {
	t.Helper()
	m.mu.RLock()
	states := []*keyState{m.kek.keyState}
	for _, d := range m.deks {
		states = append(states, d.keyState)
	}
	m.mu.RUnlock()
	var out [][]byte
	for _, st := range states {
		for _, k := range insecurecleartextkeyset.KeysetMaterial(st.handle).GetKey() {
			var g gcmpb.AesGcmKey
			if err := proto.Unmarshal(k.GetKeyData().GetValue(), &g); err != nil {
				t.Fatal(err)
			}
			if len(g.GetKeyValue()) != 32 {
				t.Fatalf("key of %d bytes, want 32", len(g.GetKeyValue()))
			}
			out = append(out, g.GetKeyValue())
		}
	}
	return out
}

func encodings(b []byte) []string {
	return []string{string(b), hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
}

// assertNoKeyMaterial fails if err's message holds any of m's keys in any common encoding.
func assertNoKeyMaterial(t testing.TB, m *Manager, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, mat := range keyMaterial(t, m) {
		for _, enc := range encodings(mat) {
			if strings.Contains(err.Error(), enc) {
				t.Fatalf("error %q contains key material", err)
			}
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := keys.WriteSecretFile(path, b); err != nil {
		t.Fatal(err)
	}
}
