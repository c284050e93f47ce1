package auditlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys"
)

// DefaultCheckpointInterval is how often Run signs a checkpoint when events were added.
const DefaultCheckpointInterval = 5 * time.Second

// Options configure a log.
type Options struct {
	// Path is the events file, e.g. <state_dir>/audit/events.jsonl. The other files of the
	// log sit next to it (see the package documentation).
	Path string
	// Origin is the first line of every checkpoint and the name of the signing key, e.g.
	// "bank.local/audit".
	Origin string
	// Keys is the key manager that wraps the checkpoint signing key (service KeyService,
	// purpose KeyPurposeCheckpoint). Required.
	Keys KeyManager
	// MasterKey opens the checkpoint-signer.key that versions before the key manager sealed
	// directly with it, to migrate it into Keys (signer.go).
	MasterKey *keys.MasterKey
	// WitnessDir, when set, receives a copy of every checkpoint and the verifier key.
	WitnessDir string
	// CheckpointInterval is Run's period. Default DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// Log receives the loud messages: records cut after a crash, failed checkpoints.
	Log *slog.Logger
	// Now is the clock for checkpoint times and event times. Default time.Now.
	Now func() time.Time
	// Durability is what Record waits for before it returns. Default audit.DurabilityFsync.
	Durability audit.Durability
	// SyncInterval is the least time between the starts of two fsyncs; records written in
	// between share the next one. 0 (default): each fsync starts as soon as the previous
	// one ended. Every fsync is a flush of the disk's cache, which on virtualised disks
	// slows the whole machine: under DurabilityWrite, where no request waits for it, a few
	// tens of milliseconds cut auditing's cost to the request path by several times, for
	// that much more of the latest records a power loss could take. Callers that wait for
	// the fsync (Append, Record under DurabilityFsync) wait up to that much longer.
	SyncInterval time.Duration
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit log is closed")

// ErrLocked is returned (wrapped) by Open when another process holds the log open: a
// running `bulwark up` or `bulwark control`.
var ErrLocked = errors.New("open in another process")

// Log is an open audit log. It is safe for concurrent use.
type Log struct {
	opts   Options
	p      paths
	lockf  *os.File
	events *os.File
	chainf *os.File
	hist   *os.File
	signer note.Signer
	verif  note.Verifier

	mu       sync.Mutex // guards pending, closing
	pending  *batch
	closing  bool
	inflight sync.WaitGroup    // enqueue calls that may still write
	writer   audit.GroupCommit // the caller writing pending batches (enqueue)
	flushed  chan struct{}     // closed when syncLoop has stopped: everything written is synced

	syncMu     sync.Mutex
	unsynced   []*batch      // written, waiting for syncLoop's next fsync
	syncNeeded chan struct{} // wakes syncLoop (capacity 1); closed by Close
	stopSync   chan struct{} // closed by Close: syncLoop stops waiting out SyncInterval

	commits, committed atomic.Uint64 // Stats: fsyncs and records made durable
	accepted, refused  atomic.Uint64 // Pending: records enqueued, and those whose write failed

	w tree // after the last written record; touched only by the writer (enqueue) after Open

	beforeSync func() error // tests hold fsyncs back, or fail them, with it; set before the first append

	// t is the tree after the last durable (fsynced) record: what checkpoints sign. Only
	// syncLoop writes it after Open; stateMu lets Checkpoint read a consistent snapshot.
	stateMu sync.Mutex
	t       tree
	failed  error // sticky: the files may hold records that could not be undone or synced

	cpMu   sync.Mutex // serializes checkpoints
	latest Checkpoint
	closed bool // the files are closed: no more checkpoints

	closeOnce sync.Once
	closeErr  error
}

// batch is the group of records that share one write (and, with the batches written
// while the previous fsync ran, one fsync).
type batch struct {
	recs    [][]byte
	leaves  [][]byte
	n       uint64 // records, kept when recs is dropped after the write
	first   uint64
	t       tree          // the tree after the batch's last record
	chain   []byte        // its events.chain records, for writeChain
	chainAt int64         // where they go in events.chain
	werr    error         // set before written is closed
	serr    error         // set before synced is closed
	written chan struct{} // closed once the batch is written, or failed to be
	synced  chan struct{} // closed once the batch is fsynced, or failed to be
}

func newBatch() *batch { return &batch{written: make(chan struct{}), synced: make(chan struct{})} }

// paths are the files of the log whose events file is events.
type paths struct {
	dir, events, chain, checkpoint, history, tree, lock string
}

func pathsFor(events string) paths {
	stem := strings.TrimSuffix(events, filepath.Ext(events))
	return paths{
		dir: filepath.Dir(events), events: events,
		chain: stem + ".chain", checkpoint: stem + ".checkpoint", history: stem + ".checkpoints",
		tree: stem + ".tree", lock: stem + ".lock",
	}
}

// Open opens the log at o.Path, creating it (and its signing key) on first use, and
// recovers from an unclean stop: a torn record after the last checkpoint is cut, loudly;
// a log whose checkpointed part is missing or changed is refused. When records are not yet
// covered by a checkpoint (or there is none), Open signs one.
func Open(o Options) (*Log, error) {
	if o.Path == "" || o.Origin == "" || o.MasterKey == nil || o.Log == nil {
		return nil, errors.New("auditlog: Path, Origin, MasterKey and Log are required")
	}
	if strings.ContainsAny(o.Origin, "\n+ ") {
		return nil, fmt.Errorf("auditlog: origin %q must not hold spaces, '+' or newlines", o.Origin)
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &Log{opts: o, p: pathsFor(o.Path), pending: newBatch(), syncNeeded: make(chan struct{}, 1), stopSync: make(chan struct{}), flushed: make(chan struct{})}
	if err := l.open(); err != nil {
		l.closeFiles()
		return nil, err
	}
	l.w = l.t.clone()
	go l.syncLoop()
	if l.latest.Note == nil || l.t.size > l.latest.Size {
		if _, err := l.Checkpoint(); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

func (l *Log) open() error {
	if err := keys.SecretDir(l.p.dir); err != nil {
		return fmt.Errorf("audit dir: %w", err)
	}
	var err error
	if l.lockf, err = openSecret(l.p.lock, os.O_RDWR|os.O_CREATE); err != nil {
		return err
	}
	if err := unix.Flock(int(l.lockf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("audit log %s is %w", l.p.events, ErrLocked)
		}
		return fmt.Errorf("audit log lock: %w", err)
	}
	if l.signer, l.verif, err = loadOrCreateSigner(l.p.dir, l.opts); err != nil {
		return err
	}
	if l.events, err = openSecret(l.p.events, os.O_RDWR|os.O_CREATE); err != nil {
		return err
	}
	if l.chainf, err = openSecret(l.p.chain, os.O_RDWR|os.O_CREATE); err != nil {
		return err
	}
	if l.hist, err = openSecret(l.p.history, os.O_RDWR|os.O_CREATE|os.O_APPEND); err != nil {
		return err
	}
	if err := l.loadLatest(); err != nil {
		return err
	}
	return l.recover()
}

func openSecret(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // an existing file may have been created looser
		f.Close()
		return nil, fmt.Errorf("audit log mode: %w", err)
	}
	return f, nil
}

// loadLatest finds the latest signed checkpoint (events.checkpoint or the last of the
// history, whichever is larger), cuts a torn history entry, and checks the witness.
func (l *Log) loadLatest() error {
	notes, good, err := readHistory(l.hist)
	if err != nil {
		return fmt.Errorf("read %s: %w", l.p.history, err)
	}
	if fi, err := l.hist.Stat(); err == nil && fi.Size() > good {
		l.opts.Log.Warn("audit: cutting a torn checkpoint history entry", "file", l.p.history, "bytes", fi.Size()-good)
		if err := l.hist.Truncate(good); err != nil {
			return fmt.Errorf("truncate %s: %w", l.p.history, err)
		}
	}
	if len(notes) > 0 {
		cp, err := openCheckpoint(notes[len(notes)-1], l.verif)
		if err != nil {
			return fmt.Errorf("%s: last entry: %w", l.p.history, err)
		}
		l.latest = cp
	}
	cp, err := readCheckpointFile(l.p.checkpoint, l.verif)
	switch {
	case errors.Is(err, os.ErrNotExist) && l.latest.Note != nil:
		return fmt.Errorf("audit log %s: %s is missing but the history holds checkpoints; run bulwark audit verify", l.p.events, l.p.checkpoint)
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case cp.Size < l.latest.Size:
		// Carrying on would sign a new checkpoint over the evidence.
		return fmt.Errorf("audit log %s: %s covers %d records but the history holds a checkpoint of %d: it was replaced with an older one; run bulwark audit verify", l.p.events, l.p.checkpoint, cp.Size, l.latest.Size)
	case cp.Size > l.latest.Size || l.latest.Note == nil:
		// A crash after writing the checkpoint file and before appending it to the history.
		l.opts.Log.Warn("audit: appending the latest checkpoint to the history, which a crash left behind", "file", l.p.history, "size", cp.Size)
		if err := l.appendHistory(cp); err != nil {
			return err
		}
		l.latest = cp
	default:
		l.latest = cp
	}
	if l.opts.WitnessDir != "" {
		wp := filepath.Join(l.opts.WitnessDir, filepath.Base(l.p.checkpoint))
		w, err := readCheckpointFile(wp, l.verif)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("witness: %w", err)
		case w.Size > l.latest.Size:
			return fmt.Errorf("audit log rolled back: the witness checkpoint %s covers %d events, the local one %d; run bulwark audit verify", wp, w.Size, l.latest.Size)
		}
	}
	return nil
}

// Size is the number of durable records.
func (l *Log) Size() uint64 {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	return l.t.size
}

// Latest returns the latest signed checkpoint.
func (l *Log) Latest() Checkpoint {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	return l.latest
}

// Path is the events file.
func (l *Log) Path() string { return l.p.events }

// Close stops accepting appends, writes what is pending, signs a final checkpoint and
// releases the log. It returns the first error of these steps.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.stopWriting()
		if _, err := l.Checkpoint(); err != nil {
			l.opts.Log.Error("audit: final checkpoint failed", "error", err.Error())
			l.closeErr = err
		}
		l.cpMu.Lock()
		l.closed = true
		l.cpMu.Unlock()
		if err := l.closeFiles(); err != nil && l.closeErr == nil {
			l.closeErr = err
		}
	})
	return l.closeErr
}

// stopWriting refuses later appends and returns once every record enqueued before is
// written and synced (or failed to be).
func (l *Log) stopWriting() {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	l.inflight.Wait()
	close(l.stopSync)
	close(l.syncNeeded) // syncLoop syncs what is left before it stops
	<-l.flushed
}

func (l *Log) closeFiles() error {
	var errs []error
	for _, f := range []*os.File{l.events, l.chainf, l.hist, l.lockf} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

// fileSize returns f's size.
func fileSize(f *os.File) (int64, error) {
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	return off, nil
}
