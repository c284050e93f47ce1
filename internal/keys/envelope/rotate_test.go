package envelope

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRotateDataKey: after rotation, data written before and after both decrypt, new
// writes use the new version, and List shows it as primary.
func TestRotateDataKey(t *testing.T) {
	m, dir, master := newManager(t)
	before := mustEncrypt(t, m, "accounts", "pii", "before", "A-1001")
	e, err := m.RotateDataKey(context.Background(), "accounts", "pii")
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindKeyRotation || e.Action != ActionRotate || e.Key != "data/accounts/pii" || e.Version != 2 || e.KEKVersion != 1 {
		t.Errorf("event: got %+v", e)
	}
	after := mustEncrypt(t, m, "accounts", "pii", "after", "A-1002")
	if keyIDOf(t, before) == keyIDOf(t, after) {
		t.Fatal("new data encrypted under the old version")
	}
	for _, mm := range []*Manager{m, openDir(t, dir, master, Options{})} {
		mustDecrypt(t, mm, "accounts", "pii", before, "A-1001", "before")
		mustDecrypt(t, mm, "accounts", "pii", after, "A-1002", "after")
	}
	list, err := m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vs := list[1].Versions
	if len(vs) != 2 || vs[0].Primary || !vs[1].Primary || vs[1].KeyID != keyIDOf(t, after) || !vs[0].Enabled {
		t.Errorf("List: got %+v, want version 2 primary, version 1 enabled", vs)
	}
	if _, err := m.RotateDataKey(context.Background(), "ledger", "pii"); err == nil {
		t.Error("rotating a data key that does not exist: got nil error")
	}
}

// TestRotateKEK: a new KEK version wraps data keys created after it; existing data keys
// stay under version 1 and keep working; RotateAll rotates everything at once.
func TestRotateKEK(t *testing.T) {
	m, dir, master := newManager(t)
	a := mustEncrypt(t, m, "accounts", "pii", "a", "r")
	e, err := m.RotateKEK(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if e.Key != "kek" || e.Version != 2 || e.Action != ActionRotate {
		t.Errorf("event: got %+v", e)
	}
	p := mustEncrypt(t, m, "payments", "pii", "p", "r")
	m2 := openDir(t, dir, master, Options{})
	mustDecrypt(t, m2, "accounts", "pii", a, "r", "a")
	mustDecrypt(t, m2, "payments", "pii", p, "r", "p")
	if got := kekVersions(t, m2); got != "accounts/pii:1 payments/pii:2" {
		t.Errorf("KEK versions wrapping data keys: got %s", got)
	}

	events, err := m2.RotateAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[0].Key != "kek" || events[0].Version != 3 {
		t.Fatalf("RotateAll events: got %+v, want the KEK (v3) and two data keys", events)
	}
	a2 := mustEncrypt(t, m2, "accounts", "pii", "a2", "r")
	if keyIDOf(t, a2) == keyIDOf(t, a) {
		t.Error("after RotateAll, new data uses the old data key version")
	}
	if got := kekVersions(t, m2); got != "accounts/pii:3 payments/pii:3" {
		t.Errorf("after RotateAll: got %s, want every data key under KEK 3", got)
	}
	for _, mm := range []*Manager{m, m2} {
		mustDecrypt(t, mm, "accounts", "pii", a, "r", "a")
		mustDecrypt(t, mm, "accounts", "pii", a2, "r", "a2")
		mustDecrypt(t, mm, "payments", "pii", p, "r", "p")
	}
}

// kekVersions summarises which KEK version wraps each data key, from List.
func kekVersions(t testing.TB, m *Manager) string {
	t.Helper()
	list, err := m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, k := range list[1:] {
		parts = append(parts, fmt.Sprintf("%s/%s:%d", k.Service, k.Purpose, k.KEKVersion))
	}
	return strings.Join(parts, " ")
}

// TestRewrapAndRetire: rewrap moves every data key to the newest KEK, all old ciphertexts
// still decrypt, and the old KEK can then be retired with decryption still working — in a
// new process too. Retiring a KEK that still wraps a data key is refused.
func TestRewrapAndRetire(t *testing.T) {
	m, dir, master := newManager(t)
	cts := map[string][]byte{}
	for _, svc := range []string{"accounts", "payments", "ledger"} {
		cts[svc] = mustEncrypt(t, m, svc, "pii", svc+"-data", "r")
	}
	if _, err := m.RotateKEK(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RetireKEK(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "run rewrap first") {
		t.Fatalf("RetireKEK(1) before rewrap: got %v, want a refusal", err)
	}
	if _, err := m.RetireKEK(context.Background(), 2); err == nil {
		t.Fatal("RetireKEK(primary): got nil error")
	}
	events, err := m.Rewrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("Rewrap: got %d events, want 3", len(events))
	}
	for _, e := range events {
		if e.Action != ActionRewrap || e.FromKEKVersion != 1 || e.KEKVersion != 2 || e.Version != 1 {
			t.Errorf("rewrap event: got %+v", e)
		}
	}
	if got := kekVersions(t, m); got != "accounts/pii:2 ledger/pii:2 payments/pii:2" {
		t.Errorf("after rewrap: got %s", got)
	}
	if again, err := m.Rewrap(context.Background()); err != nil || len(again) != 0 {
		t.Errorf("second Rewrap: got %v, %v; want nothing to do", again, err)
	}
	e, err := m.RetireKEK(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if e.Action != ActionRetire || e.Key != "kek" || e.Version != 1 {
		t.Errorf("retire event: got %+v", e)
	}
	m2 := openDir(t, dir, master, Options{})
	for svc, ct := range cts {
		mustDecrypt(t, m, svc, "pii", ct, "r", svc+"-data")
		mustDecrypt(t, m2, svc, "pii", ct, "r", svc+"-data")
	}
	list, err := m2.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v := list[0].Versions; len(v) != 2 || v[0].Enabled || !v[1].Primary {
		t.Errorf("KEK versions after retire: got %+v, want 1 disabled, 2 primary", v)
	}
}

// TestRetiredKEKDoesNotOpen: a data key file wrapped under a retired KEK version (an old
// copy put back) no longer opens; this is what retiring is for.
func TestRetiredKEKDoesNotOpen(t *testing.T) {
	m, dir, master := newManager(t)
	mustEncrypt(t, m, "accounts", "pii", "x", "r")
	old := readFile(t, dekPath(dir, ref{"accounts", "pii"}))
	if _, err := m.RotateKEK(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rewrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RetireKEK(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dekPath(dir, ref{"accounts", "pii"}), old)
	m2 := openDir(t, dir, master, Options{})
	if _, err := m2.Encrypt(context.Background(), "accounts", "pii", []byte("x"), nil); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("data key under a retired KEK: got %v, want ErrUnwrap", err)
	}
}

// TestRewrapCrashLeavesConsistentState: a rewrap that stops half way (as in a crash)
// leaves every data key readable, and running it again finishes the job.
func TestRewrapCrashLeavesConsistentState(t *testing.T) {
	m, dir, master := newManager(t)
	svcs := []string{"accounts", "ledger", "notifications", "payments"}
	cts := map[string][]byte{}
	for _, svc := range svcs {
		cts[svc] = mustEncrypt(t, m, svc, "pii", svc, "r")
	}
	if _, err := m.RotateKEK(context.Background()); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	testHookRewrapped = func(done int) error {
		if done == 2 {
			return crash
		}
		return nil
	}
	_, err := m.Rewrap(context.Background())
	testHookRewrapped = nil
	if !errors.Is(err, crash) {
		t.Fatalf("Rewrap: got %v, want the injected crash", err)
	}
	if got := kekVersions(t, m); got != "accounts/pii:2 ledger/pii:2 notifications/pii:1 payments/pii:1" {
		t.Fatalf("after the crash: got %s, want half moved", got)
	}
	m2 := openDir(t, dir, master, Options{})
	for svc, ct := range cts {
		mustDecrypt(t, m2, svc, "pii", ct, "r", svc)
	}
	events, err := m2.Rewrap(context.Background())
	if err != nil || len(events) != 2 {
		t.Fatalf("second Rewrap: got %d events, %v; want the 2 left", len(events), err)
	}
	if _, err := m2.RetireKEK(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	for svc, ct := range cts {
		mustDecrypt(t, m2, svc, "pii", ct, "r", svc)
	}
}

// TestReadersDuringRewrap: readers in this process and another keep decrypting while a
// third process rotates the KEK and rewraps: no error at any point.
func TestReadersDuringRewrap(t *testing.T) {
	m, dir, master := newManager(t)
	var svcs []string
	cts := map[string][]byte{}
	for i := range 20 {
		svc := fmt.Sprintf("svc-%02d", i)
		svcs = append(svcs, svc)
		cts[svc] = mustEncrypt(t, m, svc, "pii", svc, "r")
	}
	other := openDir(t, dir, master, Options{RefreshInterval: -1})
	job := openDir(t, dir, master, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, 4)
	for _, r := range []*Manager{m, other, m, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				svc := svcs[i%len(svcs)]
				// other re-checks the disk on every Encrypt (RefreshInterval -1), so it
				// reads each file as the job replaces it.
				if _, err := r.Encrypt(ctx, svc, "pii", []byte("w"), []byte("w")); err != nil {
					errs <- fmt.Errorf("encrypt %s: %w", svc, err)
					return
				}
				pt, err := r.Decrypt(ctx, svc, "pii", cts[svc], []byte("r"))
				if err != nil || string(pt) != svc {
					errs <- fmt.Errorf("decrypt %s: %q, %v", svc, pt, err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for range 3 {
		if _, err := job.RotateKEK(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := job.Rewrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if reads.Load() == 0 {
		t.Error("no reads happened during the rewrap")
	}
	if got := kekVersions(t, job); strings.Count(got, ":4") != len(svcs) {
		t.Errorf("after three rotations and rewraps: got %s, want all under KEK 4", got)
	}
}

// TestConcurrentUse: goroutines (and two Managers, as two processes) creating, rotating and
// using keys at once lose no version: every ciphertext written decrypts at the end.
func TestConcurrentUse(t *testing.T) {
	m1, dir, master := newManager(t)
	m2 := openDir(t, dir, master, Options{RefreshInterval: -1})
	type written struct {
		svc string
		ad  string
		ct  []byte
	}
	var mu sync.Mutex
	var all []written
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := []*Manager{m1, m2}[g%2]
			svc := []string{"accounts", "payments"}[g%4/2]
			for i := range 15 {
				ad := fmt.Sprintf("g%d-%d", g, i)
				ct, err := m.Encrypt(context.Background(), svc, "pii", []byte(ad), []byte(ad))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				all = append(all, written{svc, ad, ct})
				mu.Unlock()
				switch i % 5 {
				case 1:
					_, err = m.RotateDataKey(context.Background(), svc, "pii")
				case 3:
					_, err = m.RotateKEK(context.Background())
				case 4:
					_, err = m.Rewrap(context.Background())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fresh := openDir(t, dir, master, Options{})
	for _, w := range all {
		for _, m := range []*Manager{m1, m2, fresh} {
			mustDecrypt(t, m, w.svc, "pii", w.ct, w.ad, w.ad)
		}
	}
	list, err := fresh.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 8 goroutines × 3 rotations of a data key each (i = 1, 6, 11), 4 per service.
	for _, k := range list[1:] {
		if got, want := len(k.Versions), 1+4*3; got != want {
			t.Errorf("%s: %d versions, want %d (a rotation was lost)", k.Key, got, want)
		}
	}
	if got, want := len(list[0].Versions), 1+8*3; got != want {
		t.Errorf("kek: %d versions, want %d", got, want)
	}
}

// TestRefusalSentinels: each refusal of a rotation or retirement wraps its sentinel, so a
// caller can name it without quoting the error, and keeps its message.
func TestRefusalSentinels(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		refuse  func(m *Manager) error
		want    error
		wantMsg string
	}{
		{"rotate a data key never made", func(m *Manager) error {
			_, err := m.RotateDataKey(ctx, "ledger", "pii")
			return err
		}, ErrNoDataKey, "envelope: no data key ledger/pii (data keys are made on first use)"},
		{"rotate a data key of an invalid service name", func(m *Manager) error {
			_, err := m.RotateDataKey(ctx, "../kek", "pii")
			return err
		}, ErrInvalidName, `envelope: service "../kek": want lowercase letters, digits and '-', starting with a letter, at most 63`},
		{"retire a KEK version never made", func(m *Manager) error {
			_, err := m.RetireKEK(ctx, 7)
			return err
		}, ErrNoKEKVersion, "envelope: no KEK version 7"},
		{"retire the primary KEK version", func(m *Manager) error {
			_, err := m.RetireKEK(ctx, 2)
			return err
		}, ErrKEKPrimary, "envelope: KEK version 2 is the primary; rotate the KEK first"},
		{"retire a KEK version still in use", func(m *Manager) error {
			_, err := m.RetireKEK(ctx, 1)
			return err
		}, ErrKEKInUse, "envelope: KEK version 1 still wraps 1 data keys ([accounts/pii]); run rewrap first"},
		{"retire a KEK version twice", func(m *Manager) error {
			if _, err := m.Rewrap(ctx); err != nil {
				return err
			}
			if _, err := m.RetireKEK(ctx, 1); err != nil {
				return err
			}
			_, err := m.RetireKEK(ctx, 1)
			return err
		}, ErrKEKRetired, "envelope: KEK version 1 is already retired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _, _ := newManager(t)
			mustEncrypt(t, m, "accounts", "pii", "x", "r") // wrapped by KEK version 1
			if _, err := m.RotateKEK(ctx); err != nil {
				t.Fatal(err)
			}
			err := tc.refuse(m)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want errors.Is %v", err, tc.want)
			}
			if err.Error() != tc.wantMsg {
				t.Errorf("message: got %q, want %q", err, tc.wantMsg)
			}
		})
	}
}
