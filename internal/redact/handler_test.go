package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

type login struct {
	User     string
	Password string
}

type secretValue string

func (secretValue) LogValue() slog.Value { return slog.StringValue("4111111111111111") }

func TestHandlerMasksEveryPlace(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil)))
	log = log.With("email", "alice@example.com", slog.Group("auth", "token", "t0ps3cret"))
	log.WithGroup("req").Info("paid with 4111111111111111 by bob@example.com",
		"password", "hunter2",
		"number", int64(4111111111111111),
		"err", errors.New("national id ZZ-123-45-6789 refused"),
		"login", login{User: "bob", Password: "hunter3"},
		"lazy", secretValue("x"),
		slog.Group("card", "pan", "5555555555554444", "last4", "4444"),
		"payment_id", "pay_ABC",
	)
	out := buf.String()
	for _, leaked := range []string{"4111111111111111", "alice@example.com", "bob@example.com", "t0ps3cret",
		"hunter2", "hunter3", "ZZ-123-45-6789", "5555555555554444"} {
		if strings.Contains(out, leaked) {
			t.Errorf("log line holds %q: %s", leaked, out)
		}
	}
	for _, kept := range []string{`"payment_id":"pay_ABC"`, `"last4":"4444"`, `[card ****1111]`, `\"User\":\"bob\"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("log line lost %s: %s", kept, out)
		}
	}
}

func TestHandlerKeepsLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	log.Info("dropped")
	if buf.Len() != 0 {
		t.Errorf("info record written below warn level: %s", buf.String())
	}
}

// BenchmarkHandler compares a record through the masking handler with the same record
// through the plain JSON handler, in the same run; the ratio is the masking's cost.
func BenchmarkHandler(b *testing.B) {
	attrs := []any{"service", "payments", "payment_id", "pay_5ZJ3KQ7TQ2W6XN4M", "from", "A-1001",
		"to", "A-1002", "amount", 1250, "request_id", "0f3c5b6a9d2e4c1b8a7f6e5d4c3b2a19", "path", "/api/payments"}
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"plain-json", slog.NewJSONHandler(discard{}, nil)},
		{"masked-json", NewHandler(slog.NewJSONHandler(discard{}, nil))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(bc.h)
			b.ReportAllocs()
			for b.Loop() {
				log.Info("payment posted", attrs...)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
