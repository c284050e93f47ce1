package envelope

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// Options tune a Manager; the zero value is the default.
type Options struct {
	// Now is the clock for version timestamps and refresh checks (default time.Now).
	Now func() time.Time
	// RefreshInterval is how often Encrypt checks whether another process rotated the data
	// key it uses (default 1 s; negative: check on every call).
	RefreshInterval time.Duration
	// OnEvent, when set, receives every key event, including data keys created on first
	// use, which no method returns. Audit from here, not from the returned events too.
	// A process whose audit sink needs the manager open first leaves it nil and attaches
	// the sink with SetOnEvent: events until then are held, not dropped.
	OnEvent func(Event)
}

// Manager encrypts and decrypts data for services, with keys kept in one directory. It is
// safe for concurrent use, and several processes may use the same directory.
type Manager struct {
	dir     string
	master  tink.AEAD
	now     func() time.Time
	refresh time.Duration
	hook    hook // Options.OnEvent or SetOnEvent's, or the events held for it (hook.go)

	writeMu sync.Mutex // this process's writers; lockWriters serialises processes

	mu   sync.RWMutex
	kek  *kek
	deks map[ref]*cachedDEK
}

// cachedDEK is a data key in memory; checked (unix nanoseconds) is when its file was last
// compared with the disk.
type cachedDEK struct {
	*dataKey
	checked atomic.Int64
}

// Open opens the key directory dir (for `bulwark up`, <state>/keys), creating it and a
// first KEK version when missing. A second Open of the same directory, in this process or
// another, uses the same keys.
func Open(ctx context.Context, dir string, master tink.AEAD, opts Options) (*Manager, error) {
	if master == nil {
		return nil, errors.New("envelope: no master key")
	}
	m := &Manager{dir: filepath.Clean(dir), master: master, now: opts.Now, refresh: opts.RefreshInterval,
		hook: hook{f: opts.OnEvent}, deks: map[ref]*cachedDEK{}}
	if m.now == nil {
		m.now = time.Now
	}
	if m.refresh == 0 {
		m.refresh = time.Second
	}
	for _, d := range []string{m.dir, filepath.Join(m.dir, "data")} {
		if err := keys.SecretDir(d); err != nil {
			return nil, fmt.Errorf("envelope: %w", err)
		}
	}
	k, err := readKEK(m.dir, master)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = m.createKEK(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: kek: %w", err)
	}
	m.kek = k
	return m, nil
}

// createKEK writes KEK version 1, unless another process got there first.
func (m *Manager) createKEK(ctx context.Context) (*kek, error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	k, err := readKEK(m.dir, m.master)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	st, err := newKeyset(m.now())
	if err != nil {
		return nil, err
	}
	k = &kek{st}
	if err := k.write(m.dir, m.master); err != nil {
		return nil, err
	}
	m.emit(Event{Action: ActionCreate, Key: "kek", Version: 1})
	return k, nil
}

func (m *Manager) lock(ctx context.Context) (func(), error) {
	m.writeMu.Lock()
	unlock, err := lockWriters(ctx, m.dir)
	if err != nil {
		m.writeMu.Unlock()
		return nil, err
	}
	return func() { unlock(); m.writeMu.Unlock() }, nil
}

// Encrypt encrypts plaintext with the primary version of service's data key for purpose,
// creating that key on first use. associatedData is authenticated but not encrypted: pass
// what the ciphertext belongs to (a record id, a column), and the same to Decrypt.
func (m *Manager) Encrypt(ctx context.Context, service, purpose string, plaintext, associatedData []byte) ([]byte, error) {
	r := ref{service, purpose}
	if uint64(len(associatedData)) > math.MaxUint32 {
		return nil, errors.New("envelope: associated data too long")
	}
	d, err := m.dataKey(ctx, r, true)
	if err != nil {
		return nil, err
	}
	ct, err := d.aead.Encrypt(plaintext, boundAD(service, purpose, associatedData))
	if err != nil {
		return nil, fmt.Errorf("envelope: encrypt %s: %w", r, err)
	}
	return append([]byte{formatV1}, ct...), nil
}

// Decrypt decrypts a ciphertext from Encrypt with the same service, purpose and associated
// data. Any other service, purpose or associated data, and any change to the ciphertext,
// gives ErrDecrypt; input that is not a ciphertext gives ErrMalformed.
func (m *Manager) Decrypt(ctx context.Context, service, purpose string, ciphertext, associatedData []byte) ([]byte, error) {
	r := ref{service, purpose}
	h, body, err := parseCiphertext(ciphertext)
	if err != nil {
		return nil, err
	}
	d, err := m.dataKey(ctx, r, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("decrypt %s: %w", r, ErrDecrypt)
	}
	if err != nil {
		return nil, err
	}
	if d.version(h.keyID) == 0 && m.changedOnDisk(r, d) {
		// A version rotated in by another process since this one last read the key. The
		// stat first keeps made-up key ids from costing a read and unwrap each.
		if d, err = m.reloadDEK(ctx, r); err != nil {
			return nil, err
		}
	}
	pt, err := d.aead.Decrypt(body, boundAD(service, purpose, associatedData))
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", r, ErrDecrypt)
	}
	return pt, nil
}

func newRef(service, purpose string) (ref, error) {
	if err := checkName("envelope: service", service); err != nil {
		return ref{}, err
	}
	if err := checkName("envelope: purpose", purpose); err != nil {
		return ref{}, err
	}
	return ref{service, purpose}, nil
}

// dataKey returns the data key r from memory, from disk, or (create) newly made. With
// create, a key in memory is compared with its file at most every RefreshInterval, so a
// rotation by another process reaches new ciphertexts.
func (m *Manager) dataKey(ctx context.Context, r ref, create bool) (*dataKey, error) {
	m.mu.RLock()
	c := m.deks[r]
	m.mu.RUnlock()
	if c != nil {
		if !create {
			return c.dataKey, nil
		}
		now := m.now().UnixNano()
		last := c.checked.Load()
		if now-last < int64(m.refresh) || !c.checked.CompareAndSwap(last, now) {
			return c.dataKey, nil
		}
		if !m.changedOnDisk(r, c.dataKey) {
			return c.dataKey, nil
		}
	}
	// Names become path elements: check them before the first read (a cached key's name
	// was checked when it was loaded, which keeps the regexp off the hot path).
	if _, err := newRef(r.service, r.purpose); err != nil {
		return nil, err
	}
	d, err := m.reloadDEK(ctx, r)
	if errors.Is(err, fs.ErrNotExist) && create {
		return m.createDEK(ctx, r)
	}
	return d, err
}

// changedOnDisk reports whether r's file is not the one d was read from (files are
// replaced by rename, so a rotation or rewrap makes a new file).
func (m *Manager) changedOnDisk(r ref, d *dataKey) bool {
	fi, err := os.Stat(dekPath(m.dir, r))
	return err != nil || !os.SameFile(fi, d.stat) || !fi.ModTime().Equal(d.stat.ModTime()) || fi.Size() != d.stat.Size()
}

// reloadDEK reads r from disk into the cache. If its wrap does not open under the KEK in
// memory, another process may have rewrapped it under a newer KEK: read the KEK again.
func (m *Manager) reloadDEK(ctx context.Context, r ref) (*dataKey, error) {
	m.mu.RLock()
	k := m.kek
	m.mu.RUnlock()
	d, err := readDEK(m.dir, r, k)
	if errors.Is(err, ErrUnwrap) {
		if k, kerr := readKEK(m.dir, m.master); kerr == nil {
			m.setKEK(k)
			d, err = readDEK(m.dir, r, k)
		}
	}
	if err != nil {
		return nil, err
	}
	m.setDEK(r, d)
	return d, nil
}

// createDEK makes version 1 of r, unless another writer made it first.
func (m *Manager) createDEK(ctx context.Context, r ref) (*dataKey, error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	k, err := m.freshKEK()
	if err != nil {
		return nil, err
	}
	if d, err := readDEK(m.dir, r, k); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			m.setDEK(r, d)
		}
		return d, err
	}
	st, err := newKeyset(m.now())
	if err != nil {
		return nil, err
	}
	if err := keys.SecretDir(filepath.Dir(dekPath(m.dir, r))); err != nil {
		return nil, err
	}
	d, err := writeDEK(m.dir, r, st, k)
	if err != nil {
		return nil, fmt.Errorf("envelope: create data key %s: %w", r, err)
	}
	m.setDEK(r, d)
	m.emit(Event{Action: ActionCreate, Key: dataKeyName(r), Service: r.service, Purpose: r.purpose, Version: 1, KEKVersion: d.kekVersion})
	return d, nil
}

// freshKEK reads the KEK from disk (writers hold the lock, so this is the latest) and
// caches it.
func (m *Manager) freshKEK() (*kek, error) {
	k, err := readKEK(m.dir, m.master)
	if err != nil {
		return nil, fmt.Errorf("envelope: kek: %w", err)
	}
	m.setKEK(k)
	return k, nil
}

func (m *Manager) setKEK(k *kek) {
	m.mu.Lock()
	m.kek = k
	m.mu.Unlock()
}

func (m *Manager) setDEK(r ref, d *dataKey) {
	c := &cachedDEK{dataKey: d}
	c.checked.Store(m.now().UnixNano())
	m.mu.Lock()
	m.deks[r] = c
	m.mu.Unlock()
}

// emit completes e, hands it to the hook (or holds it until one is attached) and returns
// it.
func (m *Manager) emit(e Event) Event {
	e.Kind = KindKeyRotation
	e.Time = m.now().UTC()
	m.hook.emit(e)
	return e
}
