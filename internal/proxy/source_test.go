package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestClientIP: a request's client is the TCP peer unless a trusted proxy's forwarded
// address was recorded, and then only the last X-Forwarded-For entry (the one that proxy
// appended) counts; anything that is not an address leaves the peer.
func TestClientIP(t *testing.T) {
	for _, tt := range []struct {
		name string
		xff  []string // X-Forwarded-For lines; nil: WithForwardedClient not called
		want string
	}{
		{"peer", nil, "192.0.2.1"},
		{"forwarded", []string{"203.0.113.9"}, "203.0.113.9"},
		{"last entry", []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"last line", []string{"198.51.100.1", " 203.0.113.9 "}, "203.0.113.9"},
		{"IPv6", []string{"2001:db8::7"}, "2001:db8::7"},
		{"not an address", []string{"203.0.113.9, evil"}, "192.0.2.1"},
		{"with a port", []string{"203.0.113.9:443"}, "192.0.2.1"},
		{"empty", []string{""}, "192.0.2.1"},
		{"header absent", []string{}, "192.0.2.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "192.0.2.1:5555"
			if tt.xff != nil {
				for _, v := range tt.xff {
					r.Header.Add("X-Forwarded-For", v)
				}
				r = r.WithContext(WithForwardedClient(r.Context(), r.Header))
			} else {
				r.Header.Set("X-Forwarded-For", "203.0.113.9") // never read without WithForwardedClient
			}
			if got := ClientIP(r); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}
