package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// fileFormat is the version of the JSON files below.
const fileFormat = 1

// ErrUnwrap is returned when a wrapped key file does not open: the master key is not the
// one that wrote it, the file was tampered with or copied to another name, or the KEK
// version that wraps it was retired. The key material itself never appears in an error.
var ErrUnwrap = errors.New("wrapped key does not open (wrong master key, a tampered or moved file, or a retired KEK version)")

// nameRE is the rule for service and purpose names (the same as config's service names):
// they become path elements, so nothing else is accepted.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ErrInvalidName is wrapped by the error for a service or purpose name that breaks nameRE's
// rule; the error names the name.
var ErrInvalidName = errors.New("want lowercase letters, digits and '-', starting with a letter, at most 63")

func checkName(what, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%s %q: %w", what, s, ErrInvalidName)
	}
	return nil
}

// versionMeta numbers a tink key: tink key ids are random, operators want 1, 2, 3.
type versionMeta struct {
	Version int       `json:"version"`
	KeyID   uint32    `json:"key_id"`
	Created time.Time `json:"created"`
}

// kekMeta is the clear part of kek.json. It is authenticated: it is the associated data
// of the wrapped keyset, so editing it makes the file fail to open.
type kekMeta struct {
	Format   int           `json:"format"`
	Versions []versionMeta `json:"versions"`
}

type kekFile struct {
	kekMeta
	Keyset []byte `json:"keyset"` // tink EncryptedKeyset (binary), wrapped by the master key
}

// dekMeta is the clear part of a data key file, authenticated the same way. KEKVersion
// says which KEK version wraps it, which is what rewrap and retire look at.
type dekMeta struct {
	Format     int           `json:"format"`
	Service    string        `json:"service"`
	Purpose    string        `json:"purpose"`
	KEKVersion int           `json:"kek_version"`
	Versions   []versionMeta `json:"versions"`
}

type dekFile struct {
	dekMeta
	Keyset []byte `json:"keyset"` // tink EncryptedKeyset (binary), wrapped by the KEK
}

func metaAD(domain string, meta any) ([]byte, error) {
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	return append([]byte(domain+"\x00"), b...), nil
}

// keyState is an unwrapped keyset with its version numbers. It is never modified after it
// is built; a rotation builds a new one.
type keyState struct {
	versions []versionMeta
	handle   *keyset.Handle
	aead     tink.AEAD
}

func newKeyState(versions []versionMeta, h *keyset.Handle) (*keyState, error) {
	info := h.KeysetInfo()
	if len(info.GetKeyInfo()) != len(versions) {
		return nil, fmt.Errorf("keyset has %d keys, version list %d", len(info.GetKeyInfo()), len(versions))
	}
	for _, ki := range info.GetKeyInfo() {
		if !hasKeyID(versions, ki.GetKeyId()) {
			return nil, fmt.Errorf("keyset key %d has no version", ki.GetKeyId())
		}
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, err
	}
	return &keyState{versions: versions, handle: h, aead: a}, nil
}

func hasKeyID(vs []versionMeta, id uint32) bool {
	for _, v := range vs {
		if v.KeyID == id {
			return true
		}
	}
	return false
}

func (k *keyState) version(id uint32) int {
	for _, v := range k.versions {
		if v.KeyID == id {
			return v.Version
		}
	}
	return 0
}

func (k *keyState) primaryVersion() int {
	return k.version(k.handle.KeysetInfo().GetPrimaryKeyId())
}

// hasEnabled reports whether key id is in the keyset and enabled, so usable to decrypt.
func (k *keyState) hasEnabled(id uint32) bool {
	for _, ki := range k.handle.KeysetInfo().GetKeyInfo() {
		if ki.GetKeyId() == id {
			return ki.GetStatus() == tinkpb.KeyStatusType_ENABLED
		}
	}
	return false
}

// newKeyset makes a keyset with one AES-256-GCM key, version 1.
func newKeyset(now time.Time) (*keyState, error) {
	m := keyset.NewManager()
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, err
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, err
	}
	h, err := m.Handle()
	if err != nil {
		return nil, err
	}
	return newKeyState([]versionMeta{{Version: 1, KeyID: id, Created: stamp(now)}}, h)
}

// rotated returns a copy of k with a new primary version added; k itself is unchanged.
func (k *keyState) rotated(now time.Time) (*keyState, versionMeta, error) {
	m := keyset.NewManagerFromHandle(k.handle)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, versionMeta{}, err
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, versionMeta{}, err
	}
	h, err := m.Handle()
	if err != nil {
		return nil, versionMeta{}, err
	}
	next := 0
	for _, v := range k.versions {
		next = max(next, v.Version)
	}
	v := versionMeta{Version: next + 1, KeyID: id, Created: stamp(now)}
	st, err := newKeyState(append(append([]versionMeta(nil), k.versions...), v), h)
	return st, v, err
}

// disabled returns a copy of k with version v disabled.
func (k *keyState) disabled(v versionMeta) (*keyState, error) {
	m := keyset.NewManagerFromHandle(k.handle)
	if err := m.Disable(v.KeyID); err != nil {
		return nil, err
	}
	h, err := m.Handle()
	if err != nil {
		return nil, err
	}
	return newKeyState(k.versions, h)
}

// stamp keeps times in a form that survives a JSON round trip byte for byte, which the
// associated data relies on.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func (k *keyState) wrap(wrapper tink.AEAD, ad []byte) ([]byte, error) {
	var buf bytes.Buffer
	c := &errCatcher{AEAD: wrapper}
	if err := k.handle.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), c, ad); err != nil {
		if errors.Is(c.err, ErrMasterUnavailable) {
			err = c.err
		}
		return nil, fmt.Errorf("wrap keyset: %w", err)
	}
	return buf.Bytes(), nil
}

func unwrapKeyset(wrapped []byte, wrapper tink.AEAD, ad []byte, versions []versionMeta) (*keyState, error) {
	c := &errCatcher{AEAD: wrapper}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(wrapped)), c, ad)
	if err != nil {
		if errors.Is(c.err, ErrMasterUnavailable) {
			return nil, c.err // Vault down or refusing: not a verdict on the file
		}
		return nil, ErrUnwrap // tink's error is dropped: it adds nothing an operator can act on
	}
	st, err := newKeyState(versions, h)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnwrap, err)
	}
	return st, nil
}

// kek is the unwrapped KEK keyset.
type kek struct{ *keyState }

func kekPath(dir string) string { return filepath.Join(dir, "kek.json") }

// Exists reports whether dir holds a key manager's keys (its KEK): Open on a dir without
// one creates it, which a read-only command must not do.
func Exists(dir string) (bool, error) {
	switch _, err := os.Stat(kekPath(dir)); {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

func readKEK(dir string, master tink.AEAD) (*kek, error) {
	path := kekPath(dir)
	var f kekFile
	if err := readJSON(path, &f); err != nil {
		return nil, err
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("%s: unknown format %d", path, f.Format)
	}
	ad, err := metaAD("bulwark.kek.v1", f.kekMeta)
	if err != nil {
		return nil, err
	}
	st, err := unwrapKeyset(f.Keyset, master, ad, f.Versions)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &kek{st}, nil
}

func (k *kek) write(dir string, master tink.AEAD) error {
	meta := kekMeta{Format: fileFormat, Versions: k.versions}
	ad, err := metaAD("bulwark.kek.v1", meta)
	if err != nil {
		return err
	}
	wrapped, err := k.wrap(master, ad)
	if err != nil {
		return err
	}
	return writeJSON(kekPath(dir), kekFile{kekMeta: meta, Keyset: wrapped})
}

// ref names a data key.
type ref struct{ service, purpose string }

func (r ref) String() string { return r.service + "/" + r.purpose }

func dekPath(dir string, r ref) string {
	return filepath.Join(dir, "data", r.service, r.purpose+".json")
}

// dataKey is an unwrapped data keyset and the KEK version that wraps it on disk.
type dataKey struct {
	*keyState
	kekVersion int
	stat       os.FileInfo // of the file it was read from, to notice a newer one
}

// readDEK reads the data key r. The service and purpose in the associated data come from
// the file's name, not its contents, so a file copied to another name does not open.
func readDEK(dir string, r ref, k *kek) (*dataKey, error) {
	path := dekPath(dir, r)
	var f dekFile
	fi, err := readJSONStat(path, &f)
	if err != nil {
		return nil, err
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("%s: unknown format %d", path, f.Format)
	}
	meta := f.dekMeta
	meta.Service, meta.Purpose = r.service, r.purpose
	ad, err := metaAD("bulwark.dek.v1", meta)
	if err != nil {
		return nil, err
	}
	st, err := unwrapKeyset(f.Keyset, k.aead, ad, f.Versions)
	if err != nil {
		return nil, fmt.Errorf("data key %s (%s): %w", r, path, err)
	}
	return &dataKey{keyState: st, kekVersion: f.KEKVersion, stat: fi}, nil
}

// writeDEK wraps d under the KEK's primary version and writes it atomically.
func writeDEK(dir string, r ref, d *keyState, k *kek) (*dataKey, error) {
	meta := dekMeta{Format: fileFormat, Service: r.service, Purpose: r.purpose,
		KEKVersion: k.primaryVersion(), Versions: d.versions}
	ad, err := metaAD("bulwark.dek.v1", meta)
	if err != nil {
		return nil, err
	}
	wrapped, err := d.wrap(k.aead, ad)
	if err != nil {
		return nil, err
	}
	path := dekPath(dir, r)
	if err := writeJSON(path, dekFile{dekMeta: meta, Keyset: wrapped}); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return &dataKey{keyState: d, kekVersion: meta.KEKVersion, stat: fi}, nil
}

// listDEKs returns the data keys on disk, in a stable order.
func listDEKs(dir string) ([]ref, error) {
	services, err := os.ReadDir(filepath.Join(dir, "data"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var refs []ref
	for _, s := range services {
		if !s.IsDir() || checkName("service", s.Name()) != nil {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, "data", s.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			purpose, ok := strings.CutSuffix(f.Name(), ".json")
			if !ok || !f.Type().IsRegular() || checkName("purpose", purpose) != nil {
				continue // temp files of an interrupted write, or not ours
			}
			refs = append(refs, ref{s.Name(), purpose})
		}
	}
	return refs, nil
}

func readJSON(path string, v any) error {
	_, err := readJSONStat(path, v)
	return err
}

func readJSONStat(path string, v any) (os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil { // a key file that does not parse was tampered with
		return nil, fmt.Errorf("%s: %w: %v", path, ErrUnwrap, err)
	}
	return fi, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return keys.WriteSecretFile(path, append(b, '\n'))
}
