package redact

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
)

// Handler masks every record before the handler it wraps sees it: the message, every
// attribute (groups and LogValuers resolved, errors by their text, other values by their
// JSON form) and the value of every attribute whose key is secret-bearing.
type Handler struct {
	next slog.Handler
}

var _ slog.Handler = Handler{}

// NewHandler wraps next.
func NewHandler(next slog.Handler) Handler { return Handler{next: next} }

// Enabled reports what next does.
func (h Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle masks r and passes it on. A record with nothing to mask — most of them: an access
// log line is an ip:port, a hex id, a path — is passed on as it is, without the copy.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if clean(r) {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(Attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs masks attrs once, when they are bound.
func (h Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = Attr(a)
	}
	return Handler{next: h.next.WithAttrs(masked)}
}

// WithGroup opens a group on next. A group name is a key, not data: it is kept.
func (h Handler) WithGroup(name string) slog.Handler {
	return Handler{next: h.next.WithGroup(name)}
}

// clean reports whether masking would leave r as it is.
func clean(r slog.Record) bool {
	if String(r.Message) != r.Message {
		return false
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		ok = cleanAttr(a)
		return ok
	})
	return ok
}

// cleanAttr reports whether Attr would return a unchanged. Only the kinds the access and
// request logs use are checked here; any other kind (Any, LogValuer) counts as not clean
// and takes the full path.
func cleanAttr(a slog.Attr) bool {
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		return !SecretKey(a.Key) && String(s) == s
	case slog.KindInt64:
		return a.Value.Int64() <= 999_999_999_999 && !SecretKey(a.Key)
	case slog.KindUint64:
		return a.Value.Uint64() <= 999_999_999_999 && !SecretKey(a.Key)
	case slog.KindBool, slog.KindFloat64, slog.KindDuration, slog.KindTime:
		return !SecretKey(a.Key)
	}
	return false
}

// Attr returns a masked: its value replaced when its key is secret-bearing, else its value
// masked by kind.
func Attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if SecretKey(a.Key) && v.Kind() != slog.KindGroup {
		return slog.String(a.Key, maskedSecret)
	}
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); s != "" {
			return slog.String(a.Key, String(s))
		}
	case slog.KindInt64:
		if n := v.Int64(); n > 999_999_999_999 {
			return maskNumber(a.Key, strconv.FormatInt(n, 10), v)
		}
	case slog.KindUint64:
		if n := v.Uint64(); n > 999_999_999_999 {
			return maskNumber(a.Key, strconv.FormatUint(n, 10), v)
		}
	case slog.KindGroup:
		group := v.Group()
		masked := make([]slog.Attr, len(group))
		for i, g := range group {
			masked[i] = Attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}
	case slog.KindAny:
		return slog.Attr{Key: a.Key, Value: anyValue(v.Any())}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func maskNumber(key, digits string, v slog.Value) slog.Attr {
	if IsCardNumber(digits) {
		return slog.String(key, maskCards(digits))
	}
	return slog.Attr{Key: key, Value: v}
}

// anyValue masks a value of kind Any. An error becomes its masked text; anything else is
// masked in its JSON form (what the JSON handler would print) and becomes that text when
// masking changed it, so a struct with a Password field cannot slip through.
func anyValue(x any) slog.Value {
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case error:
		return slog.StringValue(String(x.Error()))
	case fmt.Stringer:
		return slog.StringValue(String(x.String()))
	case []byte:
		return slog.StringValue(String(string(x)))
	}
	b, err := json.Marshal(x)
	if err != nil {
		return slog.StringValue(String(fmt.Sprint(x)))
	}
	if m := String(string(b)); m != string(b) {
		return slog.StringValue(m)
	}
	return slog.AnyValue(x)
}
