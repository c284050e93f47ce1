package proxy

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func TestWriteError(t *testing.T) {
	tests := []struct {
		name      string
		requestID string // "" : no id in the context
		status    int
		code      string
		msg       string
		wantBody  string
	}{
		{
			name: "forbidden with request id", requestID: "req-123",
			status: http.StatusForbidden, code: CodeForbidden, msg: "not allowed",
			wantBody: `{"error":{"code":"forbidden","message":"not allowed","request_id":"req-123"}}`,
		},
		{
			name:   "no request id",
			status: http.StatusBadGateway, code: CodeBadGateway, msg: "upstream unavailable",
			wantBody: `{"error":{"code":"bad_gateway","message":"upstream unavailable"}}`,
		},
		{
			name: "message that needs escaping", requestID: "r",
			status: http.StatusBadRequest, code: CodeBadRequest, msg: `bad "path" <script>`,
			wantBody: `{"error":{"code":"bad_request","message":"bad \"path\" \u003cscript\u003e","request_id":"r"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.requestID != "" {
				r = r.WithContext(WithRequestID(r.Context(), tt.requestID))
			}
			w := httptest.NewRecorder()
			WriteError(w, r, tt.status, tt.code, tt.msg)

			if got, want := w.Code, tt.status; got != want {
				t.Errorf("status: got %d, want %d", got, want)
			}
			for k, want := range map[string]string{
				"Content-Type":           "application/json",
				"Cache-Control":          "no-store",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := w.Header().Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			if got := strings.TrimSuffix(w.Body.String(), "\n"); got != tt.wantBody {
				t.Errorf("body:\ngot  %s\nwant %s", got, tt.wantBody)
			}

			// The shape, independent of encoding details.
			var body map[string]map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			var top []string
			for k := range body {
				top = append(top, k)
			}
			if !slices.Equal(top, []string{"error"}) {
				t.Errorf("top-level keys: got %q, want [error]", top)
			}
			if got := body["error"]["code"]; got != tt.code {
				t.Errorf("error.code: got %v, want %q", got, tt.code)
			}
			if got := body["error"]["message"]; got != tt.msg {
				t.Errorf("error.message: got %v, want %q", got, tt.msg)
			}
			if got, _ := body["error"]["request_id"].(string); got != tt.requestID {
				t.Errorf("error.request_id: got %q, want %q", got, tt.requestID)
			}
		})
	}
}

// TestWriteErrorAfterRequestID checks the pairing the gateway relies on: the id in the
// error body is the id in the response header.
func TestWriteErrorAfterRequestID(t *testing.T) {
	h := RequestID(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, http.StatusNotFound, CodeNotFound, "no route")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/nope", nil))
	var body ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if got, want := body.Error.RequestID, w.Header().Get(HeaderRequestID); got == "" || got != want {
		t.Errorf("request_id in body: got %q, want the response header's %q", got, want)
	}
}
