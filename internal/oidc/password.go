package oidc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new hashes (OWASP's first recommendation: 19 MiB, 2 passes, 1 lane).
const (
	argonMemoryKiB = 19456
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Upper bounds for hashes read from files, so a hostile hash cannot make a login exhaust
// memory or CPU: with 64 MiB per verification and at most verifySlots() at once, checks use
// at most 128 MiB per core. Lower bounds refuse hashes too weak to be worth checking.
const (
	maxMemoryKiB = 64 * 1024
	maxTime      = 16
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// errBadPHC says a string is not an argon2id PHC hash this package accepts. It never
// quotes the input: a mistyped password could end up in a hash file.
var errBadPHC = errors.New("not an argon2id PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$hash)")

// errMemory says a hash asks for more memory than maxMemoryKiB.
var errMemory = fmt.Errorf("argon2id memory cost m above the limit of %d KiB (64 MiB): rehash with less memory", maxMemoryKiB)

type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var b64 = base64.RawStdEncoding.Strict()

// HashPassword returns an argon2id hash of pw in PHC format, with a random 128-bit salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func HashPassword(pw string) (string, error) {
	return hashWith(phc{memory: argonMemoryKiB, time: argonTime, threads: argonThreads}, argonSaltLen, argonKeyLen, pw)
}

// hashWith hashes pw with the cost parameters of params and a random salt.
func hashWith(params phc, saltLen, keyLen int, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	h := phc{memory: params.memory, time: params.time, threads: params.threads, salt: salt}
	h.key = h.derive(pw, uint32(keyLen))
	return h.String(), nil
}

// VerifyPassword reports whether pw matches the argon2id PHC hash. A malformed hash is an
// error (and false); a wrong password is false with a nil error.
func VerifyPassword(hash, pw string) (bool, error) {
	h, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	got := h.derive(pw, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

func (h phc) derive(pw string, keyLen uint32) []byte {
	return argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, keyLen)
}

func (h phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.time, h.threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// parsePHC accepts exactly the canonical form that String produces, within the bounds above.
func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, errBadPHC
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return phc{}, errBadPHC
	}
	m, err1 := param(params[0], "m=", 8, 1<<32-1)
	if err1 == nil && m > maxMemoryKiB {
		err1 = errMemory
	}
	t, err2 := param(params[1], "t=", 1, maxTime)
	p, err3 := param(params[2], "p=", 1, maxThreads)
	if err := errors.Join(err1, err2, err3); err != nil {
		return phc{}, err
	}
	if m < 8*p { // argon2 needs at least 8 KiB per lane
		return phc{}, errBadPHC
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return phc{}, errBadPHC
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return phc{}, errBadPHC
	}
	h := phc{memory: m, time: t, threads: uint8(p), salt: salt, key: key}
	if h.String() != s { // refuse leading zeros and other non-canonical spellings
		return phc{}, errBadPHC
	}
	return h, nil
}

func param(s, prefix string, lo, hi uint32) (uint32, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, errBadPHC
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || uint32(n) < lo || uint32(n) > hi {
		return 0, errBadPHC
	}
	return uint32(n), nil
}
