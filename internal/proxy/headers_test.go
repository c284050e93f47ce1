package proxy

import (
	"net/http"
	"slices"
	"testing"
)

func TestIsIdentityHeader(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"X-Bulwark-User", true},
		{"x-bulwark-roles", true},
		{"X_Bulwark_User", true},
		{"X-BULWARK-CALLER", true},
		{"X-Bulwark-Scopes", true},
		{"x_bulwark-scopes", true},
		{"X-Bulwark-Anything-Added-Later", true},
		{"X-Request-Id", false},
		{"Authorization", false},
		{"X-Bulwark", false},
		{"X-Forwarded-User", false},
		{"Bulwark-User", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsIdentityHeader(tt.name); got != tt.want {
				t.Errorf("IsIdentityHeader(%q): got %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestStripIdentityHeaders(t *testing.T) {
	tests := []struct {
		name     string
		header   http.Header // set raw, so non-canonical spellings survive as keys
		wantKeep []string
	}{
		{
			name: "every spelling stripped, others kept",
			header: http.Header{
				"X-Bulwark-User":   {"admin"},
				"x-bulwark-roles":  {"teller"},
				"X_Bulwark_User":   {"admin"},
				"X-BULWARK-CALLER": {"spiffe://bank.local/svc/ledger"},
				"X-Request-Id":     {"abc"},
				"Authorization":    {"Bearer t"},
				"Content-Type":     {"application/json"},
			},
			wantKeep: []string{"Authorization", "Content-Type", "X-Request-Id"},
		},
		{
			name:     "several values of one header",
			header:   http.Header{"X-Bulwark-Roles": {"customer", "teller"}, "Accept": {"*/*"}},
			wantKeep: []string{"Accept"},
		},
		{
			name:     "nothing to strip",
			header:   http.Header{"Accept": {"*/*"}},
			wantKeep: []string{"Accept"},
		},
		{
			name:   "empty",
			header: http.Header{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.header.Clone()
			StripIdentityHeaders(tt.header)
			var got []string
			for k := range tt.header {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.wantKeep) {
				t.Errorf("kept headers: got %q, want %q", got, tt.wantKeep)
			}
			for _, k := range got {
				if !slices.Equal(tt.header[k], before[k]) {
					t.Errorf("%s: got %q, want it unchanged %q", k, tt.header[k], before[k])
				}
			}
		})
	}
}

// TestStripIdentityHeadersFromWire sends the headers through a real request parse, as a
// client would, so canonicalisation by net/http cannot let a spelling through.
func TestStripIdentityHeadersFromWire(t *testing.T) {
	r, err := http.ReadRequest(bufioReader("GET / HTTP/1.1\r\nHost: x\r\nx-bulwark-user: mallory\r\nX_Bulwark_Roles: teller\r\nX-Bulwark-User: eve\r\nX-Request-Id: r1\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	StripIdentityHeaders(r.Header)
	for k := range r.Header {
		if IsIdentityHeader(k) {
			t.Errorf("header %q survived", k)
		}
	}
	if got, want := r.Header.Get("X-Request-Id"), "r1"; got != want {
		t.Errorf("X-Request-Id: got %q, want %q", got, want)
	}
}

// TestForwardingAndOverrideHeaders: the headers apps trust from a proxy are found in every
// spelling a framework folds onto them (case, "_" for "-"), and only those.
func TestForwardingAndOverrideHeaders(t *testing.T) {
	h := http.Header{}
	for _, name := range []string{"X-Forwarded-For", "x_forwarded_host", "X-FORWARDED-PREFIX", "Forwarded", "X_Real_IP",
		"True-Client-Ip", "CF-Connecting-IP", "X-Original-URL", "x-rewrite-url"} {
		h[name] = []string{"spoofed"}
	}
	kept := []string{"X-Forwarded", "Forwardedx", "X-Real-IPs", "X-Request-Id", "Content-Type"}
	for _, name := range kept {
		h[name] = []string{"v"}
	}
	StripForwardingHeaders(h)
	if len(h) != len(kept) {
		t.Fatalf("after StripForwardingHeaders: %v, want only %v", h, kept)
	}
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"X-HTTP-Method-Override", true}, {"x_http_method", true}, {"X-METHOD-OVERRIDE", true},
		{"X-HTTP-Method-Overrides", false}, {"X-HTTP-Methods", false}, {"X-Method", false},
	} {
		if got := HasMethodOverride(http.Header{tt.name: {"DELETE"}}); got != tt.want {
			t.Errorf("HasMethodOverride(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
