package oidc

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Failed-login limits per user name. The name is limited whether or not such a user
// exists, so the lockout answer reveals nothing about which names exist.
const (
	maxNameFailures = 10
	nameWindow      = 15 * time.Minute // failures count within this window from the first
	nameCooldown    = 15 * time.Minute // then attempts for the name are refused, unhashed
	maxNameRecords  = 100000           // beyond this, the least recently failed name is forgotten
)

// outcome is how a login attempt ended.
type outcome int

const (
	unchecked outcome = iota // no verification ran (no slot came free)
	failed
	succeeded
)

// beginLogin reserves one of a pending request's maxLoginFailures attempts. Attempts in
// flight count against the limit, so concurrent POSTs on one request can never check more
// than maxLoginFailures passwords.
func (s *storage) beginLogin(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok || a.userID != "" || a.failures+a.attempts >= maxLoginFailures {
		return false
	}
	c := *a
	c.attempts++
	s.reqs[id] = &c
	return true
}

// endLogin releases an attempt beginLogin reserved. A failure is counted, and the request
// is dropped at maxLoginFailures; it reports whether the request is still usable.
func (s *storage) endLogin(id string, o outcome) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok {
		return false
	}
	c := *a
	c.attempts--
	if o == failed {
		c.failures++
		if c.failures >= maxLoginFailures {
			s.deleteLocked(id)
			return false
		}
	}
	s.reqs[id] = &c
	return true
}

// completeLogin marks a pending request as authenticated for userID, ending the attempt
// beginLogin reserved.
func (s *storage) completeLogin(id, userID string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok || a.userID != "" {
		return nil, false
	}
	c := *a
	c.attempts--
	c.userID, c.authTime = userID, s.now()
	s.reqs[id] = &c
	return &c, true
}

// lockout counts failed logins per user name across authorization requests: after
// maxNameFailures within nameWindow, attempts for the name are refused for nameCooldown
// without hashing. Names are kept as SHA-256 digests, so the memory per name is fixed
// whatever was typed.
type lockout struct {
	now   func() time.Time
	mu    sync.Mutex
	names map[[sha256.Size]byte]*nameRecord
}

type nameRecord struct {
	first    time.Time // first failure of the current window
	last     time.Time // last failure, for eviction
	failures int
	inflight int       // attempts begun and not yet ended
	until    time.Time // refused until then
}

func newLockout(now func() time.Time) *lockout {
	return &lockout{now: now, names: map[[sha256.Size]byte]*nameRecord{}}
}

// begin reserves an attempt for name; false means the name is locked out, or enough
// attempts are in flight to reach the limit.
func (l *lockout) begin(name string) bool {
	k := sha256.Sum256([]byte(name))
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.names[k]
	if !ok {
		if len(l.names) >= maxNameRecords {
			l.evictLocked(now)
		}
		r = &nameRecord{}
		l.names[k] = r
	}
	if r.failures > 0 && now.Sub(r.first) >= nameWindow {
		r.failures = 0
	}
	if now.Before(r.until) || r.failures+r.inflight >= maxNameFailures {
		l.forgetIdleLocked(k, r, now)
		return false
	}
	r.inflight++
	return true
}

// end releases an attempt begin reserved: a failure counts (and may lock the name), a
// success clears the failures.
func (l *lockout) end(name string, o outcome) {
	k := sha256.Sum256([]byte(name))
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.names[k]
	if !ok { // evicted meanwhile
		return
	}
	r.inflight--
	switch o {
	case failed:
		if r.failures == 0 {
			r.first = now
		}
		r.failures++
		r.last = now
		if r.failures >= maxNameFailures {
			r.until, r.failures = now.Add(nameCooldown), 0
		}
	case succeeded:
		r.failures = 0
	}
	l.forgetIdleLocked(k, r, now)
}

func (l *lockout) forgetIdleLocked(k [sha256.Size]byte, r *nameRecord, now time.Time) {
	if r.inflight == 0 && r.failures == 0 && !now.Before(r.until) {
		delete(l.names, k)
	}
}

// evictLocked drops expired records, and when none has expired the least recently failed
// one that has no attempt in flight, so a flood of distinct names cannot grow the table.
func (l *lockout) evictLocked(now time.Time) {
	var oldest *[sha256.Size]byte
	var oldestAt time.Time
	for k, r := range l.names {
		if r.inflight > 0 {
			continue
		}
		if !now.Before(r.until) && (r.failures == 0 || now.Sub(r.first) >= nameWindow) {
			delete(l.names, k)
			continue
		}
		if oldest == nil || r.last.Before(oldestAt) {
			oldest, oldestAt = &k, r.last
		}
	}
	if len(l.names) >= maxNameRecords && oldest != nil {
		delete(l.names, *oldest)
	}
}
