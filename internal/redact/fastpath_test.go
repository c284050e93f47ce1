package redact

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// unfiltered is String without its prefilters (mayHold, pairCandidate, the '-' check):
// every rule runs whenever the old, looser conditions held. The fast paths must never
// change an answer, so String and unfiltered must agree on every input.
func unfiltered(s string) string {
	if hasFold(s, "bearer") || hasFold(s, "basic") {
		s = bearerRE.ReplaceAllStringFunc(s, maskCredential)
	}
	if strings.Contains(s, "eyJ") {
		s = jwtRE.ReplaceAllString(s, maskedSecret)
	}
	if strings.ContainsAny(s, "=:") {
		s = pairRE.ReplaceAllStringFunc(s, maskPair)
	}
	if strings.IndexByte(s, '@') >= 0 {
		s = emailRE.ReplaceAllString(s, maskedEmail)
	}
	if digits(s) >= 9 {
		s = nationalIDRE.ReplaceAllString(s, maskedNationalID)
		s = maskCards(s)
	}
	return s
}

var fastPathCorpus = []string{
	"127.0.0.1:50412", "[::1]:8443", "[2001:db8::1]:443", "0f3c5b6a9d2e4c1b8a7f6e5d4c3b2a19",
	"/api/accounts/A-1001", "at 15:49:48", "password=x", "password = x", `"token" : "a"`, `"token"  :"a"`,
	"1a:b", "9:key=1", "pin:1234", "a\t:\tb", "x\"=y", "key_id=12", "id 123-45-6789", "123456789",
	"ZZ123-45-6789", "request_id=0f3c5b6a4111111111111111a2b3", "Bearer abc", "eyJa.eyJb.c",
	"authorization:Basic Zm9v", "secret:", ":secret", "=", "", "4111111111111111",
}

func TestFastPathsChangeNothing(t *testing.T) {
	for _, s := range fastPathCorpus {
		if got, want := String(s), unfiltered(s); got != want {
			t.Errorf("String(%q) = %q, unfiltered gives %q", s, got, want)
		}
	}
	for s, want := range map[string]bool{
		"127.0.0.1:50412": false, "[::1]:8443": false, "2026-01-02T03:04:05Z": true, // 'T' before ':'
		"password=x": true, `"token" : "a"`: true, "1a:b": true, "12=3": false, "": false,
	} {
		if got := pairCandidate(s); got != want {
			t.Errorf("pairCandidate(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzFastPaths checks String against unfiltered on arbitrary input.
func FuzzFastPaths(f *testing.F) {
	for _, s := range fastPathCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String(s), unfiltered(s); got != want {
			t.Fatalf("String(%q) = %q, unfiltered gives %q", s, got, want)
		}
	})
}

// TestHandlerCleanRecordSameOutput: a record the handler passes on without copying writes
// exactly what the masking path would; a record with one value to mask is masked.
func TestHandlerCleanRecordSameOutput(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	attrs := []slog.Attr{slog.String("request_id", "0f3c5b6a9d2e4c1b8a7f6e5d4c3b2a19"), slog.String("remote", "127.0.0.1:50412"),
		slog.Int("status", 200), slog.Float64("duration_ms", 1.5), slog.Bool("ok", true), slog.Duration("took", time.Second),
		slog.Time("at", at), slog.Uint64("n", 7)}
	rec := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	rec.AddAttrs(attrs...)
	if !clean(rec) {
		t.Fatal("an access-log record is not clean")
	}
	var fast, slow bytes.Buffer
	if err := NewHandler(slog.NewJSONHandler(&fast, nil)).Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	masked := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	for _, a := range attrs {
		masked.AddAttrs(Attr(a))
	}
	if err := slog.NewJSONHandler(&slow, nil).Handle(context.Background(), masked); err != nil {
		t.Fatal(err)
	}
	if fast.String() != slow.String() {
		t.Errorf("clean path wrote %s, masking path %s", fast.String(), slow.String())
	}
	for _, dirty := range []slog.Attr{slog.String("user", "alice@example.com"), slog.String("token", "x"),
		slog.Int64("pan", 4111111111111111), slog.Any("err", context.Canceled), slog.Group("g", slog.String("a", "b"))} {
		r := rec.Clone()
		r.AddAttrs(dirty)
		if clean(r) {
			t.Errorf("a record with %v is clean", dirty)
		}
	}
	var out bytes.Buffer
	r := rec.Clone()
	r.AddAttrs(slog.String("user", "alice@example.com"))
	_ = NewHandler(slog.NewJSONHandler(&out, nil)).Handle(context.Background(), r)
	if strings.Contains(out.String(), "alice@") {
		t.Errorf("masked output holds the e-mail: %s", out.String())
	}
}
