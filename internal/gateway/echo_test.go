package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
)

// echoed is what echoHandler answers: the request as the upstream received it.
type echoed struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Header  http.Header `json:"header"`
	BodyLen int64       `json:"body_len"`
	BodySHA string      `json:"body_sha256"` // hex SHA-256 of the body received
}

// echoHandler is the harness's default upstream: it answers with what it received, and
// with headers the gateway must remove or override.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	sum := sha256.New()
	n, _ := io.Copy(sum, r.Body)
	w.Header().Set("Server", "echo/1.0")
	w.Header().Set("X-Powered-By", "test")
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("X-Request-Id", "chosen-by-upstream") // the gateway's id must win
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Path: r.URL.Path, Header: r.Header, BodyLen: n, BodySHA: hex.EncodeToString(sum.Sum(nil))})
})

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
