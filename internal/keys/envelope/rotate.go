package envelope

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// KindKeyRotation is the audit kind of every Event.
const KindKeyRotation = "key_rotation"

// Event actions.
const (
	ActionCreate = "create" // version 1 of a key was made
	ActionRotate = "rotate" // a new primary version was added
	ActionRewrap = "rewrap" // a data key was re-wrapped under the primary KEK version
	ActionRetire = "retire" // a KEK version was disabled
)

// Event is one change to the keys, for the audit log. It names keys and versions, never
// key material.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`   // always KindKeyRotation
	Action  string    `json:"action"` // ActionCreate, ActionRotate, ActionRewrap, ActionRetire
	Key     string    `json:"key"`    // "kek" or "data/<service>/<purpose>"
	Service string    `json:"service,omitempty"`
	Purpose string    `json:"purpose,omitempty"`
	// Version is the version created, made primary or retired; for rewrap, the data key's
	// primary version (unchanged).
	Version int `json:"version"`
	// KEKVersion is, for a data key, the KEK version that wraps it now; FromKEKVersion the
	// one that wrapped it before a rewrap.
	KEKVersion     int `json:"kek_version,omitempty"`
	FromKEKVersion int `json:"from_kek_version,omitempty"`
}

func dataKeyName(r ref) string { return "data/" + r.String() }

// The key manager's refusals of a rotation or retirement: each error wraps one, with the
// key or version it names, so a caller (the failure event of an audited command) can tell
// what was refused without quoting the error.
var (
	// ErrNoDataKey: RotateDataKey of a data key that was never made (they are made on
	// first use).
	ErrNoDataKey = errors.New("envelope: no data key")
	// ErrNoKEKVersion: RetireKEK of a version the KEK never had.
	ErrNoKEKVersion = errors.New("envelope: no KEK version")
	// ErrKEKPrimary: RetireKEK of the primary version, which wraps new data keys.
	ErrKEKPrimary = errors.New("is the primary")
	// ErrKEKRetired: RetireKEK of a version that is already retired.
	ErrKEKRetired = errors.New("is already retired")
	// ErrKEKInUse: RetireKEK of a version that still wraps a data key (Rewrap first).
	ErrKEKInUse = errors.New("still wraps")
)

// RotateKEK adds a KEK version and makes it primary. Data keys created or rotated from now
// on are wrapped under it; existing ones stay wrapped under their version, which still
// opens them, until Rewrap moves them.
func (m *Manager) RotateKEK(ctx context.Context) (Event, error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return Event{}, err
	}
	defer unlock()
	return m.rotateKEKLocked()
}

func (m *Manager) rotateKEKLocked() (Event, error) {
	k, err := m.freshKEK()
	if err != nil {
		return Event{}, err
	}
	st, v, err := k.rotated(m.now())
	if err != nil {
		return Event{}, fmt.Errorf("envelope: rotate kek: %w", err)
	}
	next := &kek{st}
	if err := next.write(m.dir, m.master); err != nil {
		return Event{}, fmt.Errorf("envelope: rotate kek: %w", err)
	}
	m.setKEK(next)
	return m.emit(Event{Action: ActionRotate, Key: "kek", Version: v.Version}), nil
}

// RotateDataKey adds a version to service's data key for purpose and makes it primary:
// new ciphertexts use it, old ones still decrypt with theirs. The key must exist.
func (m *Manager) RotateDataKey(ctx context.Context, service, purpose string) (Event, error) {
	r, err := newRef(service, purpose)
	if err != nil {
		return Event{}, err
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return Event{}, err
	}
	defer unlock()
	k, err := m.freshKEK()
	if err != nil {
		return Event{}, err
	}
	return m.rotateDEKLocked(r, k)
}

func (m *Manager) rotateDEKLocked(r ref, k *kek) (Event, error) {
	d, err := readDEK(m.dir, r, k)
	if errors.Is(err, fs.ErrNotExist) {
		return Event{}, fmt.Errorf("%w %s (data keys are made on first use)", ErrNoDataKey, r)
	}
	if err != nil {
		return Event{}, err
	}
	st, v, err := d.rotated(m.now())
	if err != nil {
		return Event{}, fmt.Errorf("envelope: rotate %s: %w", r, err)
	}
	nd, err := writeDEK(m.dir, r, st, k)
	if err != nil {
		return Event{}, fmt.Errorf("envelope: rotate %s: %w", r, err)
	}
	m.setDEK(r, nd)
	return m.emit(Event{Action: ActionRotate, Key: dataKeyName(r), Service: r.service, Purpose: r.purpose,
		Version: v.Version, KEKVersion: nd.kekVersion}), nil
}

// RotateAll rotates the KEK, then every data key (wrapping each new version under the new
// KEK), under one lock.
func (m *Manager) RotateAll(ctx context.Context) ([]Event, error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e, err := m.rotateKEKLocked()
	if err != nil {
		return nil, err
	}
	events := []Event{e}
	refs, err := listDEKs(m.dir)
	if err != nil {
		return events, err
	}
	m.mu.RLock()
	k := m.kek
	m.mu.RUnlock()
	for _, r := range refs {
		if err := ctx.Err(); err != nil {
			return events, err
		}
		e, err := m.rotateDEKLocked(r, k)
		if err != nil {
			return events, err
		}
		events = append(events, e)
	}
	return events, nil
}

// testHookRewrapped, when set by a test, runs after each data key is rewrapped; an error
// stops the job there, as a crash would.
var testHookRewrapped func(done int) error

// Rewrap re-wraps every data key that is not under the primary KEK version, one file at a
// time: each is read, wrapped again and atomically replaced under the writers' lock, which
// is released between files so that other writers wait at most one file. Data keys keep
// their versions, so every ciphertext stays valid and readers never stop; if the job stops
// half way, every file is under the old or the new KEK, both open, and running it again
// finishes it. It returns one event per data key moved.
func (m *Manager) Rewrap(ctx context.Context) ([]Event, error) {
	refs, err := listDEKs(m.dir)
	if err != nil {
		return nil, fmt.Errorf("envelope: rewrap: %w", err)
	}
	var events []Event
	for _, r := range refs {
		if err := ctx.Err(); err != nil {
			return events, err
		}
		e, moved, err := m.rewrapOne(ctx, r)
		if err != nil {
			return events, fmt.Errorf("envelope: rewrap: %w", err)
		}
		if !moved {
			continue
		}
		events = append(events, e)
		if testHookRewrapped != nil {
			if err := testHookRewrapped(len(events)); err != nil {
				return events, err
			}
		}
	}
	return events, nil
}

func (m *Manager) rewrapOne(ctx context.Context, r ref) (Event, bool, error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return Event{}, false, err
	}
	defer unlock()
	k, err := m.freshKEK()
	if err != nil {
		return Event{}, false, err
	}
	d, err := readDEK(m.dir, r, k)
	if errors.Is(err, fs.ErrNotExist) {
		return Event{}, false, nil
	}
	if err != nil {
		return Event{}, false, err
	}
	primary := k.primaryVersion()
	if d.kekVersion == primary {
		return Event{}, false, nil
	}
	nd, err := writeDEK(m.dir, r, d.keyState, k)
	if err != nil {
		return Event{}, false, err
	}
	m.setDEK(r, nd)
	return m.emit(Event{Action: ActionRewrap, Key: dataKeyName(r), Service: r.service, Purpose: r.purpose,
		Version: d.primaryVersion(), KEKVersion: primary, FromKEKVersion: d.kekVersion}), true, nil
}

// RetireKEK disables KEK version: it no longer opens anything. It refuses the primary
// version, and any version that still wraps a data key (run Rewrap first), so retiring
// never makes data unreadable. Every data key is opened to check, which also proves each
// one still opens after the retirement.
func (m *Manager) RetireKEK(ctx context.Context, version int) (Event, error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return Event{}, err
	}
	defer unlock()
	k, err := m.freshKEK()
	if err != nil {
		return Event{}, err
	}
	var target *versionMeta
	for i := range k.versions {
		if k.versions[i].Version == version {
			target = &k.versions[i]
		}
	}
	switch {
	case target == nil:
		return Event{}, fmt.Errorf("%w %d", ErrNoKEKVersion, version)
	case version == k.primaryVersion():
		return Event{}, fmt.Errorf("envelope: KEK version %d %w; rotate the KEK first", version, ErrKEKPrimary)
	case !k.hasEnabled(target.KeyID):
		return Event{}, fmt.Errorf("envelope: KEK version %d %w", version, ErrKEKRetired)
	}
	refs, err := listDEKs(m.dir)
	if err != nil {
		return Event{}, err
	}
	var still []string
	for _, r := range refs {
		d, err := readDEK(m.dir, r, k)
		if err != nil {
			return Event{}, err
		}
		if d.kekVersion == version {
			still = append(still, r.String())
		}
	}
	if len(still) > 0 {
		return Event{}, fmt.Errorf("envelope: KEK version %d %w %d data keys (%v); run rewrap first", version, ErrKEKInUse, len(still), still)
	}
	st, err := k.disabled(*target)
	if err != nil {
		return Event{}, fmt.Errorf("envelope: retire KEK version %d: %w", version, err)
	}
	next := &kek{st}
	if err := next.write(m.dir, m.master); err != nil {
		return Event{}, fmt.Errorf("envelope: retire KEK version %d: %w", version, err)
	}
	m.setKEK(next)
	return m.emit(Event{Action: ActionRetire, Key: "kek", Version: version}), nil
}
