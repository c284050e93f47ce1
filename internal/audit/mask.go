package audit

import "github.com/bulwark-security/bulwark/internal/redact"

// Mask returns e with card numbers, national ids, e-mail addresses and credentials masked
// in its free-text fields (package redact). Every writer applies it before an event is
// stored: a path or a reason can carry what a client sent.
func Mask(e Event) Event {
	e.Path = redact.String(e.Path)
	e.Reason = redact.String(e.Reason)
	e.User = redact.String(e.User)
	e.Source = redact.String(e.Source)
	return e
}
