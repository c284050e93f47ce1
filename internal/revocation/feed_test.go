package revocation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

const testIssuer = "https://gw.example/oidc"

// feedServer is the real Handler behind TLS, with a switch that makes it answer 503 as a
// control plane that is down would (the list itself lives on).
type feedServer struct {
	*httptest.Server
	list *List
	down atomic.Bool
}

func newFeedServer(t *testing.T) *feedServer {
	t.Helper()
	fs := &feedServer{list: openList(t, filepath.Join(t.TempDir(), "revoked.jsonl"), &clock{now: time.Now()})}
	fs.list.now = time.Now
	h := Handler(fs.list)
	fs.Server = httptest.NewTLSServer(proxy.RequestID(true)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fs.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})))
	t.Cleanup(fs.Close)
	return fs
}

type heard struct {
	mu   sync.Mutex
	jtis []string
}

func (h *heard) add(_, jti string) { h.mu.Lock(); h.jtis = append(h.jtis, jti); h.mu.Unlock() }

func startFollower(t *testing.T, fs *feedServer, h *heard) *Follower {
	t.Helper()
	f, err := NewFollower(FollowerOptions{URL: fs.URL + FeedPath, HTTPClient: fs.Client(), Issuer: testIssuer, OnRevoke: h.add, ReadyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// waitRevoked polls until the follower reports jti revoked, for at most 2s, and returns
// how long it took.
func waitRevoked(t *testing.T, f *Follower, jti string) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		if ok, err := f.Revoked(context.Background(), testIssuer, jti); err == nil && ok {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s not revoked at the follower within 2s", jti)
	return 0
}

func TestFollowerRefusesUntilFirstList(t *testing.T) {
	fs := newFeedServer(t)
	fs.down.Store(true)
	f := startFollower(t, fs, &heard{})
	if _, err := f.Revoked(context.Background(), testIssuer, "x"); err == nil {
		t.Fatal("Revoked answered before any list arrived")
	}
	if ok, err := f.Revoked(context.Background(), "https://other.example", "x"); ok || err != nil {
		t.Fatalf("another issuer's token: revoked=%v err=%v, want false, nil", ok, err)
	}
	fs.down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := f.Revoked(context.Background(), testIssuer, "x")
		if err == nil {
			if ok {
				t.Fatal("x revoked on an empty list")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no list within 5s of the feed coming up: %v", err)
		}
	}
}

func TestFollowerLearnsRevocationsAndCatchesUp(t *testing.T) {
	fs := newFeedServer(t)
	if _, err := fs.list.Revoke("before-start", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	h := &heard{}
	f := startFollower(t, fs, h)
	waitRevoked(t, f, "before-start")

	// While the follower waits in a long poll, a revocation reaches it at once.
	time.Sleep(100 * time.Millisecond)
	if _, err := fs.list.Revoke("live", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	d := waitRevoked(t, f, "live")
	t.Logf("propagation while connected: %v", d)
	if d > time.Second {
		t.Errorf("propagation took %v, want well under 1s", d)
	}

	// The feed goes down: the last list stays in force, failures are counted, and what
	// was revoked meanwhile arrives when it comes back.
	fs.down.Store(true)
	fs.CloseClientConnections() // end the long poll in flight
	deadline := time.Now().Add(5 * time.Second)
	for f.Failures() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f.Failures() == 0 {
		t.Fatal("no failure counted while the feed was down")
	}
	if ok, err := f.Revoked(context.Background(), testIssuer, "live"); !ok || err != nil {
		t.Fatalf("while down: live revoked=%v err=%v, want the last list kept", ok, err)
	}
	if _, err := fs.list.Revoke("while-down", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	fs.down.Store(false)
	waitRevoked(t, f, "while-down")
	h.mu.Lock()
	got := strings.Join(h.jtis, ",")
	h.mu.Unlock()
	if got != "before-start,live,while-down" {
		t.Errorf("OnRevoke heard %q, want each jti once in order", got)
	}
}

func TestFollowerDropsExpired(t *testing.T) {
	fs := newFeedServer(t)
	if _, err := fs.list.Revoke("soon", time.Now().Add(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	f := startFollower(t, fs, &heard{})
	waitRevoked(t, f, "soon")
	time.Sleep(400 * time.Millisecond)
	if ok, _ := f.Revoked(context.Background(), testIssuer, "soon"); ok {
		t.Error("an entry past its until is still revoked (the token expired anyway)")
	}
}

func TestHandlerBadInput(t *testing.T) {
	fs := newFeedServer(t)
	tests := []struct {
		name, method, query string
		want                int
	}{
		{"since not a number", http.MethodGet, "since=abc", http.StatusBadRequest},
		{"negative since", http.MethodGet, "since=-1", http.StatusBadRequest},
		{"wait too long", http.MethodGet, "wait=21", http.StatusBadRequest},
		{"epoch too long", http.MethodGet, "epoch=" + strings.Repeat("e", 65), http.StatusBadRequest},
		{"POST", http.MethodPost, "", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, fs.URL+FeedPath+"?"+tc.query, nil)
			resp, err := fs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body proxy.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not a JSON error: %v", err)
			}
			if resp.StatusCode != tc.want || body.Error.Code != proxy.CodeBadRequest || body.Error.RequestID == "" {
				t.Errorf("got %d %+v, want %d with code %s and a request id", resp.StatusCode, body.Error, tc.want, proxy.CodeBadRequest)
			}
		})
	}
	if fs.list.seq != 0 {
		t.Error("bad requests changed the list")
	}
}

func TestDecodeBatch(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"good", `{"epoch":"e","seq":2,"entries":[{"seq":1,"jti":"a","until":"2030-01-01T00:00:00Z"},{"seq":2,"jti":"b","until":"2030-01-01T00:00:00Z"}]}`, true},
		{"empty", `{"epoch":"e","seq":0,"entries":[]}`, true},
		{"no epoch", `{"seq":0,"entries":[]}`, false},
		{"unknown field", `{"epoch":"e","seq":0,"entries":[],"x":1}`, false},
		{"seq beyond batch", `{"epoch":"e","seq":1,"entries":[{"seq":2,"jti":"a","until":"2030-01-01T00:00:00Z"}]}`, false},
		{"out of order", `{"epoch":"e","seq":3,"entries":[{"seq":2,"jti":"a","until":"2030-01-01T00:00:00Z"},{"seq":1,"jti":"b","until":"2030-01-01T00:00:00Z"}]}`, false},
		{"empty jti", `{"epoch":"e","seq":1,"entries":[{"seq":1,"jti":"","until":"2030-01-01T00:00:00Z"}]}`, false},
		{"not JSON", `<html>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBatch(strings.NewReader(tc.body))
			if (err == nil) != tc.ok {
				t.Errorf("DecodeBatch error = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(`{"epoch":"e","seq":2,"entries":[{"seq":1,"jti":"a","until":"2030-01-01T00:00:00Z"}]}`)
	f.Add(`{"epoch":"e","seq":0,"reset":true,"more":true,"entries":[]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, body string) {
		b, err := DecodeBatch(strings.NewReader(body))
		if err != nil {
			return
		}
		var last uint64
		for _, e := range b.Entries {
			if e.JTI == "" || len(e.JTI) > maxJTIBytes || e.Seq <= last || e.Seq > b.Seq {
				t.Fatalf("DecodeBatch accepted a malformed entry %+v in %+v", e, b)
			}
			last = e.Seq
		}
		f := &Follower{o: FollowerOptions{Issuer: testIssuer, Now: time.Now}, ready: make(chan struct{}), revoked: map[string]time.Time{}}
		f.apply(b) // must not panic
	})
}
