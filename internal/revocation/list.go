package revocation

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// MaxEntries bounds the live list. Revoking needs an authenticated client and a valid
// token, so only a client revoking a huge number of its own tokens within one token
// lifetime could reach it; then Revoke fails instead of growing without bound.
const MaxEntries = 1_000_000

// maxJTIBytes bounds one jti; the embedded provider's are about 50 bytes.
const maxJTIBytes = 256

// Entry is one revoked access token.
type Entry struct {
	Seq   uint64    `json:"seq"`
	JTI   string    `json:"jti"`
	Until time.Time `json:"until"` // after this, the token is expired everywhere
}

// List is the control plane's persisted revocation list. It is safe for concurrent use.
type List struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	f       *os.File
	epoch   string
	seq     uint64
	entries []Entry           // by seq
	byJTI   map[string]uint64 // jti -> seq
	changed chan struct{}     // closed and replaced on every Revoke
}

type fileHeader struct {
	Epoch string `json:"epoch"`
}

// OpenList opens the list at path, creating it (0600, in a 0700 directory) with a fresh
// epoch when absent, drops the entries that have expired and rewrites the file compacted.
// now is the clock (time.Now when nil).
func OpenList(path string, now func() time.Time) (*List, error) {
	if now == nil {
		now = time.Now
	}
	if err := keys.SecretDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("revocation list dir: %w", err)
	}
	l := &List{path: path, now: now, byJTI: map[string]uint64{}, changed: make(chan struct{})}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if l.epoch, err = newEpoch(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("read revocation list: %w", err)
	default:
		if err := l.load(data); err != nil {
			return nil, fmt.Errorf("revocation list %s: %w", path, err)
		}
	}
	if err := l.rewrite(); err != nil {
		return nil, err
	}
	return l, nil
}

func newEpoch() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("revocation epoch: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// load reads the header line and the entries. A torn last line (a crash mid-append) is
// ignored; any other malformed line is an error, since dropping it would un-revoke a token.
func (l *List) load(data []byte) error {
	lines := bytes.Split(data, []byte("\n"))
	var h fileHeader
	if err := json.Unmarshal(lines[0], &h); err != nil || h.Epoch == "" {
		return errors.New("first line is not a header with an epoch")
	}
	l.epoch = h.Epoch
	now := l.now()
	for i, line := range lines[1:] {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil || e.JTI == "" || e.Seq <= l.seq {
			if i == len(lines)-2 && !bytes.HasSuffix(data, []byte("\n")) {
				break
			}
			return fmt.Errorf("line %d: malformed entry", i+2)
		}
		l.seq = e.Seq
		if now.Before(e.Until) {
			l.entries = append(l.entries, e)
			l.byJTI[e.JTI] = e.Seq
		}
	}
	return nil
}

// rewrite replaces the file with the header and the live entries, then keeps it open for
// appending.
func (l *List) rewrite() error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	_ = enc.Encode(fileHeader{Epoch: l.epoch})
	for _, e := range l.entries {
		_ = enc.Encode(e)
	}
	if err := keys.WriteSecretFile(l.path, buf.Bytes()); err != nil { // atomic
		return fmt.Errorf("write revocation list: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open revocation list: %w", err)
	}
	l.f = f
	return nil
}

// Close closes the file.
func (l *List) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// Revoke adds jti, to be kept until until, and wakes every waiting feed. It is durable
// (fsynced) when it returns. Revoking a jti already on the list changes nothing and
// returns added false.
func (l *List) Revoke(jti string, until time.Time) (added bool, err error) {
	if jti == "" || len(jti) > maxJTIBytes {
		return false, errors.New("revocation: jti is empty or too long")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.byJTI[jti]; ok {
		return false, nil
	}
	now := l.now()
	if len(l.entries) >= MaxEntries {
		l.purgeLocked(now)
		if len(l.entries) >= MaxEntries {
			return false, fmt.Errorf("revocation: list holds %d live entries", MaxEntries)
		}
	}
	e := Entry{Seq: l.seq + 1, JTI: jti, Until: until.UTC()}
	line, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("revocation: encode: %w", err)
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		return false, fmt.Errorf("revocation: append: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return false, fmt.Errorf("revocation: sync: %w", err)
	}
	l.seq = e.Seq
	l.entries = append(l.entries, e)
	l.byJTI[jti] = e.Seq
	close(l.changed)
	l.changed = make(chan struct{})
	return true, nil
}

// purgeLocked drops expired entries from memory; the file is compacted on the next open.
func (l *List) purgeLocked(now time.Time) {
	live := l.entries[:0]
	for _, e := range l.entries {
		if now.Before(e.Until) {
			live = append(live, e)
		} else {
			delete(l.byJTI, e.JTI)
		}
	}
	clear(l.entries[len(live):])
	l.entries = live
}

// Revoked reports whether jti is on the list.
func (l *List) Revoked(jti string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.byJTI[jti]
	return ok
}

// Batch is one answer of the feed.
type Batch struct {
	Epoch string `json:"epoch"`
	// Seq is the sequence number to ask from next (the last entry's, or the caller's own
	// when nothing is new).
	Seq uint64 `json:"seq"`
	// Reset means the caller's epoch was not the list's: Entries start the whole list.
	Reset bool `json:"reset,omitempty"`
	// More means further entries are ready: ask again at once.
	More    bool    `json:"more,omitempty"`
	Entries []Entry `json:"entries"`
}

// since answers a caller at (epoch, seq) with at most limit entries, and the channel that
// is closed by the next Revoke.
func (l *List) since(epoch string, seq uint64, limit int) (Batch, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := Batch{Epoch: l.epoch, Seq: seq, Entries: []Entry{}}
	if epoch != l.epoch || seq > l.seq {
		b.Reset, b.Seq, seq = true, 0, 0
	}
	now := l.now()
	for _, e := range l.entries[l.firstAfter(seq):] {
		if len(b.Entries) == limit {
			b.More = true
			break
		}
		b.Seq = e.Seq
		if now.Before(e.Until) {
			b.Entries = append(b.Entries, e)
		}
	}
	return b, l.changed
}

// firstAfter returns the index of the first entry with Seq > seq (entries are sorted).
func (l *List) firstAfter(seq uint64) int {
	lo, hi := 0, len(l.entries)
	for lo < hi {
		mid := (lo + hi) / 2
		if l.entries[mid].Seq <= seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
