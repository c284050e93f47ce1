package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
)

// bankValidator returns the validator of the bank's route for path.
func bankValidator(t testing.TB, path string) *apiValidator {
	t.Helper()
	cfg, err := config.Load("../../examples/bank/bulwark.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Gateway.Routes {
		if r.Path == path {
			v, err := newAPIValidator(r.API)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no bank route %s", path)
	return nil
}

var accountIDRE = regexp.MustCompile(`^A-[0-9]{4,12}$`)

// FuzzPaymentValidation feeds arbitrary query strings, content types and bodies to the
// validator of the bank's POST /api/payments. It must never panic, must leave the body it
// checked in the request, and whatever it accepts must be, read independently, exactly
// one JSON object with a from and a to account id, an integer amount from 1 to 10^12 and
// nothing else, sent as JSON with no query parameter.
func FuzzPaymentValidation(f *testing.F) {
	v := bankValidator(f, "/api/payments")
	for _, seed := range []struct{ query, ctype, body string }{
		{"", "application/json", `{"from":"A-1001","to":"A-1002","amount":10}`},
		{"", "application/json; charset=utf-8", `{"from":"A-1001","to":"A-1002","amount":1e3}`},
		{"", "application/json", `{"from":"A-1001","to":"A-1002","amount":"5"}`},
		{"", "application/json", `{"from":"A-1001","to":"A-1002","amount":5,"amount":0}`},
		{"", "application/json", `{"from":"A-1001","to":"A-1002","amount":5,"FROM":"A-1003"}`},
		{"", "application/json", `{"from":"A-1001","to":"A-1002","amount":5}{}`},
		{"", "application/json", `{"from":"A-1001","to":"A-1002","amount":10.0}`},
		{"a=1", "application/json", `{"from":"A-1001","to":"A-1002","amount":10}`},
		{"%zz", "application/json", `{}`},
		{"", "text/plain", `{"from":"A-1001","to":"A-1002","amount":10}`},
		{"", "application/merge-patch+json", `{"from":"A-1001","to":"A-1002","amount":10}`},
		{"", "", ""},
		{"", "application/json", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`},
	} {
		f.Add(seed.query, seed.ctype, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, query, ctype string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/payments", bytes.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ctype)
		r = r.WithContext(withPrincipal(r.Context(), authn.Principal{Subject: "alice", Roles: []string{"customer"}}))
		rej := v.check(r)
		forwarded, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(forwarded, body) || r.ContentLength != int64(len(body)) {
			t.Fatalf("the request's body after the check is %q (length %d), want the %q that was checked", forwarded, r.ContentLength, body)
		}
		if rej != nil {
			if rej.status < 400 || rej.code == "" || rej.message == "" {
				t.Fatalf("rejection without status, code or message: %+v", rej)
			}
			return
		}
		if q, err := url.ParseQuery(query); err != nil || len(q) > 0 {
			t.Fatalf("accepted query %q", query)
		}
		if mt, _, err := mime.ParseMediaType(ctype); err != nil || mt != "application/json" {
			t.Fatalf("accepted content type %q", ctype)
		}
		if checkJSON(body) != nil {
			t.Fatalf("accepted a body checkJSON refuses: %q", body)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		var p struct {
			From, To *string
			Amount   *json.Number
		}
		if err := dec.Decode(&p); err != nil || dec.More() {
			t.Fatalf("accepted body %q that is not one object of known fields: %v", body, err)
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(body, &keys)
		for k := range keys {
			if k != "from" && k != "to" && k != "amount" {
				t.Fatalf("accepted body %q with member %q", body, k)
			}
		}
		if p.From == nil || p.To == nil || p.Amount == nil || !accountIDRE.MatchString(*p.From) || !accountIDRE.MatchString(*p.To) {
			t.Fatalf("accepted body %q without valid from, to and amount", body)
		}
		if f, err := p.Amount.Float64(); err != nil || f < 1 || f > 1e12 || f != float64(int64(f)) {
			t.Fatalf("accepted amount %s", *p.Amount)
		}
	})
}

// FuzzCheckJSON: checkJSON never panics and accepts only what encoding/json finds valid.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, `[1,2] 3`, `"x"`, ` `, `{"a":}`, `{"a" 1}`, `[}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkJSON(data) == nil && !json.Valid(data) {
			t.Fatalf("checkJSON accepted invalid JSON %q", data)
		}
	})
}

func TestCheckJSON(t *testing.T) {
	deep := bytes.Repeat([]byte("["), maxJSONDepth+1)
	deep = append(deep, bytes.Repeat([]byte("]"), maxJSONDepth+1)...)
	tests := []struct {
		in, want string // want "" : accepted
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":1}]}`, ""},
		{`{"a":"a","b":"a"}`, ""},
		{`[ "a", "a" ]`, ""},
		{` 5 `, ""},
		{`{"a":1,"a":1}`, `has the member "a" twice in one object`},
		{`{"o":{"k":[],"k":{}}}`, `has the member "k" twice in one object`},
		{`{"a":{"x":1},"a":2}`, `has the member "a" twice in one object`},
		{`{} {}`, "holds more than one JSON value"},
		{`{}]`, "is not valid JSON"},
		{``, "is not valid JSON"},
		{`   `, "is not valid JSON"},
		{`{"a":1`, "is not valid JSON"},
		{string(deep), "is nested deeper than 64 levels"},
		{"{\"note\":\"caf\xe9\"}", "is not valid UTF-8"}, // Latin-1: one reading here, another there
	}
	for _, tt := range tests {
		got := ""
		if err := checkJSON([]byte(tt.in)); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("checkJSON(%.40q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestOpenAPICheckConcurrent: one validator serves every request of its route at once.
func TestOpenAPICheckConcurrent(t *testing.T) {
	v := bankValidator(t, "/api/payments")
	bodies := []string{`{"from":"A-1001","to":"A-1002","amount":10}`, `{"from":"A-1001","to":"A-1002","amount":0}`, `{"from":"x","to":"A-1002","amount":1}`}
	done := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 25 {
				body := bodies[(g+i)%len(bodies)]
				r := httptest.NewRequest(http.MethodPost, "/api/payments", bytes.NewReader([]byte(body)))
				r.Header.Set("Content-Type", "application/json")
				r = r.WithContext(withPrincipal(r.Context(), authn.Principal{Subject: "alice"}))
				if rej := v.check(r); (rej == nil) != (body == bodies[0]) {
					done <- fmt.Errorf("%s: got %+v", body, rej)
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
