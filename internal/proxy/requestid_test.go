package proxy

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var freshIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestID(t *testing.T) {
	const good = "0123456789abcdef-ABC_x.y"
	tests := []struct {
		name          string
		trustIncoming bool
		incoming      []string // X-Request-Id values the client sent
		wantKept      bool     // the first incoming value is kept
	}{
		{"edge, no id", false, nil, false},
		{"edge replaces a client id", false, []string{good}, false},
		{"mesh, no id", true, nil, false},
		{"mesh keeps a well-formed id", true, []string{good}, true},
		{"mesh keeps a 64-char id", true, []string{strings.Repeat("a", 64)}, true},
		{"mesh replaces a 65-char id", true, []string{strings.Repeat("a", 65)}, false},
		{"mesh replaces an id with CR LF", true, []string{"abc\r\nX-Bulwark-User: admin"}, false},
		{"mesh replaces an id with a trailing LF", true, []string{"abc\n"}, false},
		{"mesh replaces an id with spaces", true, []string{"abc def"}, false},
		{"mesh replaces an id with a slash", true, []string{"abc/def"}, false},
		{"mesh replaces an empty id", true, []string{""}, false},
		{"mesh replaces non-ASCII", true, []string{"abcé"}, false},
		{"mesh keeps the first of several ids", true, []string{good, "other"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seenCtx, seenHeader string
			var seenValues []string
			h := RequestID(tt.trustIncoming)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seenCtx = RequestIDFrom(r.Context())
				seenHeader = r.Header.Get(HeaderRequestID)
				seenValues = r.Header.Values(HeaderRequestID)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.incoming {
				r.Header.Add(HeaderRequestID, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if tt.wantKept {
				if got, want := seenCtx, tt.incoming[0]; got != want {
					t.Errorf("context id: got %q, want the incoming %q", got, want)
				}
			} else {
				if !freshIDRE.MatchString(seenCtx) {
					t.Errorf("context id: got %q, want a fresh 32-hex-digit id", seenCtx)
				}
				for _, v := range tt.incoming {
					if seenCtx == v {
						t.Errorf("context id: got the client's %q, want a fresh one", v)
					}
				}
			}
			if seenHeader != seenCtx {
				t.Errorf("request header: got %q, want the context id %q", seenHeader, seenCtx)
			}
			if len(seenValues) != 1 {
				t.Errorf("request header values: got %q, want exactly one", seenValues)
			}
			if got := w.Header().Get(HeaderRequestID); got != seenCtx {
				t.Errorf("response header: got %q, want the context id %q", got, seenCtx)
			}
		})
	}
}

func TestRequestIDIsFreshEachTime(t *testing.T) {
	var ids []string
	h := RequestID(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids = append(ids, RequestIDFrom(r.Context()))
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	if ids[0] == ids[1] {
		t.Errorf("two requests got the same id %q", ids[0])
	}
}

func TestRequestIDFromEmptyContext(t *testing.T) {
	if got := RequestIDFrom(httptest.NewRequest(http.MethodGet, "/", nil).Context()); got != "" {
		t.Errorf("got %q, want empty", got)
	}
}
