package gateway

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer is an mTLS upstream that answers with what it received.
type echoServer struct {
	addr string
	hits atomic.Int64
}

type echoed struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Header  http.Header `json:"header"`
	BodyLen int64       `json:"body_len"`
	BodySHA string      `json:"body_sha256"` // hex SHA-256 of the body received
}

func startEcho(t testing.TB, cfg *tls.Config) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{addr: ln.Addr().String()}
	srv := &http.Server{TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		sum := sha256.New()
		n, _ := io.Copy(sum, r.Body)
		w.Header().Set("Server", "echo/1.0")
		w.Header().Set("X-Powered-By", "test")
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		w.Header().Set("X-Request-Id", "chosen-by-upstream") // the gateway's id must win
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Path: r.URL.Path, Header: r.Header, BodyLen: n, BodySHA: hex.EncodeToString(sum.Sum(nil))})
	})}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("echo server: %v", err)
		}
	})
	return e
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// errorBody decodes a JSON error response.
func errorBody(t *testing.T, body []byte) (code, requestID string) {
	t.Helper()
	var b struct {
		Error struct {
			Code      string `json:"code"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	return b.Error.Code, b.Error.RequestID
}
