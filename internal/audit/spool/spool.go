package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys"
)

// Defaults.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultSegmentBytes = 8 << 20
)

// ErrFull is returned by Append when the records would take the spool past MaxBytes.
var ErrFull = errors.New("audit spool is full: the collector has not acknowledged enough events")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit spool is closed")

// ErrLocked is returned (wrapped) by Open when another process holds the spool open.
var ErrLocked = errors.New("open in another process")

// Options configure a spool.
type Options struct {
	// Dir holds the spool's files, e.g. <state_dir>/audit/spool/gateway.
	Dir string
	// MaxBytes bounds the bytes not yet acknowledged by the collector. Default DefaultMaxBytes.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started. Default DefaultSegmentBytes.
	SegmentBytes int64
	// Durability is what Record waits for (audit.durability): the write to the segment
	// file (DurabilityWrite) or its fsync (DurabilityFsync, the zero value). Either way
	// Peek hands out only fsynced records, and Append always waits for the fsync.
	Durability audit.Durability
	// SyncInterval is the least time between the starts of two fsyncs (see
	// auditlog.Options.SyncInterval): records written in between share the next one, and
	// reach Peek that much later. 0: back to back.
	SyncInterval time.Duration
	// FailOpen only words the "spool full" log line: what the role does with a refused
	// event is its own decision (audit.unsafe_fail_open).
	FailOpen bool
	// Log receives the loud messages: torn records cut, spool full, room again, a failed
	// fsync.
	Log *slog.Logger
	// Now is the clock for event times. Default time.Now.
	Now func() time.Time
	// OnStats, when set, is called with the new figures after every append and ack (a
	// gauge hook for metrics). It must not block or call back into the spool.
	OnStats func(Stats)

	// syncFile fsyncs a segment (default (*os.File).Sync); tests wrap it to hold back or
	// fail fsyncs.
	syncFile func(*os.File) error
}

// Stats are the spool's current figures.
type Stats struct {
	Events   int64 // durable (fsynced) records not yet acknowledged by the collector
	Bytes    int64 // their size on disk, framing included
	MaxBytes int64
	Full     bool // the last append was refused for lack of room
}

// pos is a position in the spool: a segment and a byte offset in it.
type pos struct {
	seg uint64
	off int64
}

// Spool is an open spool. It is safe for concurrent use; one consumer at a time may
// Peek and Ack.
type Spool struct {
	o    Options
	lock *os.File

	mu       sync.Mutex // guards the fields up to writer
	pending  *batch
	closing  bool
	inflight sync.WaitGroup // enqueue calls that may still write
	reserved int64          // bytes enqueued and not yet durable
	full     bool
	failed   error     // sticky: a write could not be undone, or an fsync failed
	segs     []segment // the durable view: what Peek may hand out
	acked    pos       // the first unacknowledged record
	oldest   oldest    // the time of the record at acked (Oldest)
	events   int64     // durable, unacknowledged
	bytes    int64

	writer audit.GroupCommit // the caller writing pending batches (enqueue)
	w      writer            // touched only by the writer after Open

	syncMu     sync.Mutex
	unsynced   []*batch      // written, waiting for syncLoop's next fsync
	retired    []*os.File    // rolled-away segments for syncLoop to sync and close
	syncNeeded chan struct{} // wakes syncLoop (capacity 1); closed by Close
	stopSync   chan struct{} // closed by Close: syncLoop stops waiting out SyncInterval
	flushed    chan struct{} // closed when syncLoop has stopped
	dirSynced  uint64        // the last segment whose directory entry is durable; syncLoop's

	notify chan struct{}
}

// writer is the write side: the last segment, open for appending, and its written size
// (which runs ahead of the durable size in segs until syncLoop catches up).
type writer struct {
	f    *os.File
	seq  uint64
	size int64
}

// segment is one segment file and its durable (fsynced) size.
type segment struct {
	seq  uint64
	size int64
}

// batch is the group of records that share one write (and, with the batches written
// while the previous fsync ran, one fsync).
type batch struct {
	frames  []byte
	n       int
	size    int64    // len(frames), kept once frames is dropped after the write
	f       *os.File // the segment written to
	seq     uint64
	end     int64         // the segment's size after the batch
	werr    error         // set before written is closed
	serr    error         // set before synced is closed
	written chan struct{} // closed once the batch is written, or failed to be
	synced  chan struct{} // closed once the batch is fsynced, or failed to be
}

func newBatch() *batch { return &batch{written: make(chan struct{}), synced: make(chan struct{})} }

// Open opens the spool in o.Dir, creating it, and recovers from a crash: a torn record at
// the end of a segment is cut and logged, and what is left is fsynced before Peek hands it
// out (a killed process leaves written records that only the kernel holds).
func Open(o Options) (*Spool, error) {
	if o.Dir == "" || o.Log == nil {
		return nil, errors.New("spool: Dir and Log are required")
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := keys.SecretDir(o.Dir); err != nil {
		return nil, fmt.Errorf("spool dir: %w", err)
	}
	if o.syncFile == nil {
		o.syncFile = (*os.File).Sync
	}
	s := &Spool{o: o, pending: newBatch(), notify: make(chan struct{}, 1),
		syncNeeded: make(chan struct{}, 1), stopSync: make(chan struct{}), flushed: make(chan struct{})}
	var err error
	if s.lock, err = lockDir(o.Dir); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.lock.Close()
		return nil, err
	}
	go s.syncLoop()
	return s, nil
}

func segName(seq uint64) string { return fmt.Sprintf("%016x.seg", seq) }

func (s *Spool) segPath(seq uint64) string { return filepath.Join(s.o.Dir, segName(seq)) }

// listSegments returns the sequence numbers of the segment files, in order.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || len(name) != 16 {
			continue
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, n)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// Stats returns the current figures.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Spool) statsLocked() Stats {
	return Stats{Events: s.events, Bytes: s.bytes, MaxBytes: s.o.MaxBytes, Full: s.full}
}

func (s *Spool) publish() {
	if s.o.OnStats != nil {
		s.o.OnStats(s.Stats())
	}
}

// Notify is signalled after records become durable: the shipper waits on it when the
// spool is empty.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Close stops accepting records, writes and fsyncs every record enqueued before it, and
// releases the spool.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	s.inflight.Wait() // every enqueued batch is written (or failed to be)
	close(s.stopSync)
	close(s.syncNeeded) // syncLoop syncs what is left, closes rolled segments, and stops
	<-s.flushed         // no writer is left: s.w is Close's
	return errors.Join(s.w.f.Close(), s.lock.Close())
}
