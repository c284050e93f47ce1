package testtransit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// transitKey is one named key: its AES-256-GCM versions, as Transit keeps them.
type transitKey struct {
	typ         string
	derived     bool
	minDecrypt  int
	versions    []cipher.AEAD // version i+1
	versionTime []time.Time
}

func (k *transitKey) rotate() {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	k.versions = append(k.versions, gcm)
	k.versionTime = append(k.versionTime, time.Now())
}

func (k *transitKey) info(name string) map[string]any {
	versions := map[string]any{}
	for i, at := range k.versionTime {
		versions[strconv.Itoa(i+1)] = at.Unix()
	}
	encrypts := k.typ != "ed25519"
	return map[string]any{"name": name, "type": k.typ, "derived": k.derived, "keys": versions,
		"latest_version": len(k.versions), "min_decryption_version": k.minDecrypt, "min_encryption_version": 0,
		"supports_encryption": encrypts, "supports_decryption": encrypts, "supports_derivation": true,
		"supports_signing": !encrypts, "deletion_allowed": false, "exportable": false}
}

func (ts *Server) create(w http.ResponseWriter, name string, body map[string]any) {
	typ, _ := body["type"].(string)
	switch typ {
	case "":
		typ = "aes256-gcm96"
	case "aes256-gcm96", "ed25519":
	default:
		transitErrors(w, http.StatusBadRequest, "unknown key type "+typ)
		return
	}
	if ts.keys[name] == nil {
		derived, _ := body["derived"].(bool)
		k := &transitKey{typ: typ, derived: derived, minDecrypt: 1}
		k.rotate()
		ts.keys[name] = k
	}
	transitData(w, ts.keys[name].info(name))
}

func (ts *Server) config(w http.ResponseWriter, name string, k *transitKey, body map[string]any) {
	if v, ok := body["min_decryption_version"].(float64); ok {
		if int(v) < 1 || int(v) > len(k.versions) {
			transitErrors(w, http.StatusBadRequest, "cannot set min decryption version to a version that does not exist")
			return
		}
		k.minDecrypt = int(v)
	}
	transitData(w, k.info(name))
}

// associatedData decodes the request's associated_data (absent: none).
func (ts *Server) associatedData(body map[string]any) ([]byte, bool) {
	s, _ := body["associated_data"].(string)
	if ts.ignoreAD {
		return nil, true
	}
	ad, err := base64.StdEncoding.DecodeString(s)
	return ad, err == nil
}

func (ts *Server) encrypt(w http.ResponseWriter, name string, body map[string]any) {
	pt, err := base64.StdEncoding.DecodeString(strOf(body["plaintext"]))
	if err != nil {
		transitErrors(w, http.StatusBadRequest, "failed to base64-decode plaintext")
		return
	}
	ad, ok := ts.associatedData(body)
	if !ok {
		transitErrors(w, http.StatusBadRequest, "failed to base64-decode associated_data")
		return
	}
	k := ts.keys[name]
	if k == nil { // upsert, as the create capability allowed
		k = &transitKey{typ: "aes256-gcm96", minDecrypt: 1}
		k.rotate()
		ts.keys[name] = k
	}
	switch {
	case k.typ == "ed25519":
		transitErrors(w, http.StatusBadRequest, "key type ed25519 does not support encryption")
		return
	case k.derived && body["context"] == nil:
		transitErrors(w, http.StatusBadRequest, "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key")
		return
	}
	v := len(k.versions)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	sealed := k.versions[v-1].Seal(nonce, nonce, pt, ad)
	transitData(w, map[string]any{"ciphertext": "vault:v" + strconv.Itoa(v) + ":" + base64.StdEncoding.EncodeToString(sealed), "key_version": v})
}

func (ts *Server) decrypt(w http.ResponseWriter, k *transitKey, body map[string]any) {
	if k == nil {
		transitErrors(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	ct := strOf(body["ciphertext"])
	rest, ok := strings.CutPrefix(ct, "vault:v")
	vs, b64, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		transitErrors(w, http.StatusBadRequest, "invalid ciphertext: no prefix")
		return
	}
	v, err := strconv.Atoi(vs)
	switch {
	case err != nil || v < 1 || v > len(k.versions):
		transitErrors(w, http.StatusBadRequest, "invalid ciphertext: version number could not be decoded")
		return
	case v < k.minDecrypt:
		transitErrors(w, http.StatusBadRequest, "ciphertext or signature version is disallowed by policy (too old)")
		return
	}
	ad, ok := ts.associatedData(body)
	sealed, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(sealed) < 12 {
		transitErrors(w, http.StatusBadRequest, "invalid ciphertext: could not decode base64")
		return
	}
	pt, err := k.versions[v-1].Open(nil, sealed[:12], sealed[12:], ad)
	if err != nil {
		transitErrors(w, http.StatusBadRequest, "cipher: message authentication failed")
		return
	}
	transitData(w, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)})
}

func strOf(v any) string { s, _ := v.(string); return s }
