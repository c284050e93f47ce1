package envelope

import "sync"

// hook delivers a Manager's events: to Options.OnEvent, or to a hook attached later with
// SetOnEvent. While none is attached, events are held in memory, in order, and handed to
// the hook when it is attached: a process that must open its keys before its audit log
// (whose signing key the manager wraps) loses no event in between.
type hook struct {
	mu   sync.Mutex // held while f runs, so events reach f one at a time and in order
	f    func(Event)
	held []Event
}

func (h *hook) emit(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		h.held = append(h.held, e)
		return
	}
	h.f(e)
}

func (h *hook) set(f func(Event)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.f = f
	if f == nil {
		return
	}
	held := h.held
	h.held = nil
	for _, e := range held {
		f(e)
	}
}

// SetOnEvent attaches f as the event hook, in place of Options.OnEvent or an earlier one.
// Events emitted while no hook was attached are passed to f first, in order, before
// SetOnEvent returns; later ones as they happen. Until a hook is attached nothing is
// dropped: events are held (they are few: one per key created, rotated or re-wrapped).
// A nil f detaches the hook, and events are held again. f runs under a lock of its own:
// it must not call SetOnEvent.
func (m *Manager) SetOnEvent(f func(Event)) { m.hook.set(f) }
