package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAuditExport(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(minimal+`audit:
  export:
    - name: splunk
      type: https
      url: https://siem.example:8088/ingest
      ca_file: /etc/siem/ca.pem
      bearer_token_file: /run/secrets/siem-token
    - name: rsyslog
      type: syslog
      address: syslog.example:6514
      batch_size: 50
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []AuditExport{
		{Name: "splunk", Type: "https", URL: "https://siem.example:8088/ingest", CAFile: "/etc/siem/ca.pem",
			BearerTokenFile: "/run/secrets/siem-token", AppName: "bulwark", BatchSize: 500, Timeout: 10 * time.Second, MaxBackoff: 30 * time.Second},
		{Name: "rsyslog", Type: "syslog", Address: "syslog.example:6514", AppName: "bulwark", BatchSize: 50,
			Timeout: 10 * time.Second, MaxBackoff: 30 * time.Second},
	}
	if len(c.Audit.Export) != len(want) {
		t.Fatalf("got %d exports, want %d", len(c.Audit.Export), len(want))
	}
	for i := range want {
		if c.Audit.Export[i] != want[i] {
			t.Errorf("export %d:\ngot  %+v\nwant %+v", i, c.Audit.Export[i], want[i])
		}
	}

	base := strings.Count(minimal, "\n") // the line before "audit:"
	bad := []struct{ name, yaml, want string }{
		{"unknown key", "    - name: a\n      type: https\n      url: https://x\n      token: abc\n",
			fmt.Sprintf("bulwark.yaml:%d: audit.export[0].token: unknown key", base+6)},
		{"no inline token, only a file", "    - name: a\n      type: https\n      url: https://x\n      bearer_token: abc\n",
			"audit.export[0].bearer_token: unknown key"},
		{"plain http", "    - name: a\n      type: https\n      url: http://x\n",
			fmt.Sprintf(`bulwark.yaml:%d: audit.export[0].url: want an https URL without user info or fragment, got "http://x"`, base+5)},
		{"user info", "    - name: a\n      type: https\n      url: https://u:p@x\n", "audit.export[0].url: want an https URL"},
		{"unknown type", "    - name: a\n      type: kafka\n", `audit.export[0].type: want "https" or "syslog", got "kafka"`},
		{"syslog without port", "    - name: a\n      type: syslog\n      address: syslog.example\n",
			`audit.export[0].address: want host:port of the syslog TLS receiver, got "syslog.example"`},
		{"token on syslog", "    - name: a\n      type: syslog\n      address: s:6514\n      bearer_token_file: /t\n",
			"audit.export[0].bearer_token_file: is for type https"},
		{"bad name", "    - name: a/b\n      type: syslog\n      address: s:6514\n", `audit.export[0].name: want 1 to 64 letters`},
		{"duplicate name", "    - name: a\n      type: syslog\n      address: s:6514\n    - name: a\n      type: syslog\n      address: t:6514\n",
			`audit.export[1].name: "a" is used by another export`},
		{"batch too big", "    - name: a\n      type: syslog\n      address: s:6514\n      batch_size: 100000\n",
			"audit.export[0].batch_size: must be between 1 and 10000, got 100000"},
		{"app name with space", "    - name: a\n      type: syslog\n      address: s:6514\n      app_name: my app\n",
			"audit.export[0].app_name: printable ASCII without spaces only"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bulwark.yaml", []byte(minimal+"audit:\n  export:\n"+tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
