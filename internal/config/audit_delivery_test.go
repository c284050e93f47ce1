package config

import (
	"strings"
	"testing"
)

func TestAuditNATSServerID(t *testing.T) {
	nats := func(url, serverID string) string {
		s := minimal + "audit:\n  transport: nats\n  nats:\n    url: " + url + "\n"
		if serverID != "" {
			s += "    server_id: " + serverID + "\n"
		}
		return s
	}
	c, err := Parse("bulwark.yaml", []byte(nats("tls://127.0.0.1:4222", "spiffe://bank.local/svc/nats")))
	if err != nil || c.Audit.NATS.Server.String() != "spiffe://bank.local/svc/nats" {
		t.Fatalf("tls:// with server_id: got %q, %v", c.Audit.NATS.Server, err)
	}
	if c, err := Parse("bulwark.yaml", []byte(nats("tls://nats.example:4222", ""))); err != nil || !c.Audit.NATS.Server.IsZero() {
		t.Fatalf("tls:// without server_id: got %q, %v", c.Audit.NATS.Server, err)
	}
	for _, tc := range []struct{ name, url, id, want string }{
		{"plaintext url", "nats://127.0.0.1:4222", "spiffe://bank.local/svc/nats", "audit.nats.server_id: needs a tls:// audit.nats.url"},
		{"not a SPIFFE ID", "tls://127.0.0.1:4222", "nats.example", "audit.nats.server_id: not a SPIFFE ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("bulwark.yaml", []byte(nats(tc.url, tc.id))); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
