package collect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/auditlog"
)

// Log is what the collector appends to: *auditlog.Log. Append returns once the records
// are durable.
type Log interface {
	Append(recs ...[]byte) (uint64, error)
	ScanIDs(fn func(id string)) (uint64, error)
}

var _ Log = (*auditlog.Log)(nil)

// Options configure a collector.
type Options struct {
	// Log is the tamper-evident log events are appended to.
	Log Log
	// Reporters maps each SPIFFE ID that may deliver events to the one component its
	// events must name ("gateway", "sidecar/ledger").
	Reporters map[spiffeid.ID]string
	// Logger receives refusals and the index rebuild figures.
	Logger *slog.Logger
	// Now is the clock for local events. Default time.Now.
	Now func() time.Time
}

// Result is the outcome of one delivery.
type Result struct {
	Accepted   int `json:"accepted"`   // events appended
	Duplicates int `json:"duplicates"` // events the log already held (or repeated in the batch)
}

// RejectError refuses a whole batch: nothing of it was appended.
type RejectError struct {
	Index     int  // the first bad event
	Forbidden bool // provenance (the sender may not report it), not form
	Err       error
}

func (e *RejectError) Error() string { return fmt.Sprintf("event %d: %v", e.Index, e.Err) }
func (e *RejectError) Unwrap() error { return e.Err }

// key is the index entry of one event id: 16 bytes of its SHA-256, whatever the id's
// length, so that memory per event is fixed (a collision needs ~2^64 ids).
type key [16]byte

func keyOf(id string) key {
	sum := sha256.Sum256([]byte(id))
	return key(sum[:16])
}

// Collector de-duplicates and appends delivered events. It is safe for concurrent use.
type Collector struct {
	o Options

	mu       sync.Mutex
	seen     map[key]struct{}
	inflight map[key]chan struct{} // ids being appended; closed when the append ends
}

var _ audit.Recorder = (*Collector)(nil)

// New builds the de-duplication index from every record of the log.
func New(o Options) (*Collector, error) {
	if o.Log == nil || o.Logger == nil {
		return nil, errors.New("collect: Log and Logger are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Collector{o: o, seen: map[key]struct{}{}, inflight: map[key]chan struct{}{}}
	start := time.Now()
	n, err := o.Log.ScanIDs(func(id string) { c.seen[keyOf(id)] = struct{}{} })
	if err != nil {
		return nil, fmt.Errorf("collect: rebuild event id index: %w", err)
	}
	o.Logger.Info("audit collector: event id index rebuilt from the log", "records", n, "ids", len(c.seen), "took", time.Since(start).String())
	return c, nil
}

// Accept checks a batch from sender, appends the events the log does not hold yet (with
// "reporter": sender stamped in) and returns once they are durable. A batch with any bad
// event is refused whole (*RejectError) and changes nothing.
func (c *Collector) Accept(sender spiffeid.ID, recs [][]byte) (Result, error) {
	component, ok := c.o.Reporters[sender]
	if !ok {
		return Result{}, &RejectError{Forbidden: true, Err: fmt.Errorf("%s may not deliver audit events", sender)}
	}
	ids := make([]string, len(recs))
	stamped := make([][]byte, len(recs))
	for i, r := range recs {
		h, err := parseEvent(r)
		if err == nil {
			err = checkSchema(r)
		}
		if err == nil {
			err = checkProvenance(h, sender, component)
			if err != nil {
				c.o.Logger.Warn("audit collector: refused an event its sender may not report", "sender", sender.String(), "index", i, "error", err.Error())
				return Result{}, &RejectError{Index: i, Forbidden: true, Err: err}
			}
		}
		if err != nil {
			return Result{}, &RejectError{Index: i, Err: err}
		}
		ids[i], stamped[i] = h.ID, stamp(r, sender)
	}
	return c.append(ids, stamped)
}

// Record appends one of the collector's own events (the control plane's decisions)
// through the same index, so that every id in the log is in it. It fills Time and ID.
func (c *Collector) Record(_ context.Context, e audit.Event) error {
	if e.Time.IsZero() {
		e.Time = c.o.Now().UTC()
	}
	if e.ID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("audit: event id: %w", err)
		}
		e.ID = hex.EncodeToString(b[:])
	}
	rec, err := json.Marshal(audit.Mask(e))
	if err != nil {
		return fmt.Errorf("audit: encode event: %w", err)
	}
	if _, err := c.append([]string{e.ID}, [][]byte{rec}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// append appends the records whose ids are neither in the log nor earlier in the batch.
// An id that another delivery is appending is set aside and looked at again once that
// append has ended: a duplicate if it succeeded, appended here if it failed. A delivery
// never waits while holding reservations of its own, so two cannot wait on each other.
func (c *Collector) append(ids []string, recs [][]byte) (Result, error) {
	var res Result
	for len(ids) > 0 {
		var todo [][]byte
		var mine []key
		var waits []chan struct{}
		var laterIDs []string
		var laterRecs [][]byte
		done := make(chan struct{})
		c.mu.Lock()
		for i, id := range ids {
			k := keyOf(id)
			if _, dup := c.seen[k]; dup {
				res.Duplicates++
				continue
			}
			switch ch, busy := c.inflight[k]; {
			case !busy:
				c.inflight[k] = done
				mine = append(mine, k)
				todo = append(todo, recs[i])
			case ch == done: // repeated within this batch
				res.Duplicates++
			default:
				waits = append(waits, ch)
				laterIDs, laterRecs = append(laterIDs, id), append(laterRecs, recs[i])
			}
		}
		c.mu.Unlock()
		var err error
		if len(todo) > 0 {
			_, err = c.o.Log.Append(todo...)
		}
		c.mu.Lock()
		for _, k := range mine {
			delete(c.inflight, k)
			if err == nil {
				c.seen[k] = struct{}{}
			}
		}
		c.mu.Unlock()
		close(done)
		if err != nil {
			return Result{}, fmt.Errorf("collect: append: %w", err)
		}
		res.Accepted += len(todo)
		for _, ch := range waits {
			<-ch
		}
		ids, recs = laterIDs, laterRecs
	}
	return res, nil
}

// Size is the number of event ids in the index.
func (c *Collector) Size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
