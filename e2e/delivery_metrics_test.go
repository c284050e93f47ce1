package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// metricsURL is the scrape URL that role name logged when it started ("metrics
// listening"); a restarted role logs its new one.
func (r *rolesRig) metricsURL(name string) string {
	r.t.Helper()
	var url string
	waitFor(r.t, name+"'s metrics listener", func() bool {
		sc := bufio.NewScanner(strings.NewReader(r.procs[name].Stderr()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "metrics listening" {
				url = l.URL
				return true
			}
		}
		return false
	})
	return url
}

// spoolGauges scrapes a standalone role's spool depth and delivery lag; a gauge that is
// missing reads -1.
func spoolGauges(t *testing.T, url string) (events, lag float64) {
	t.Helper()
	mfs := scrape(t, url)
	gauge := func(name string) float64 {
		mf, ok := mfs[name]
		if !ok || len(mf.GetMetric()) != 1 {
			return -1
		}
		return mf.GetMetric()[0].GetGauge().GetValue()
	}
	return gauge("bulwark_audit_spool_events"), gauge("bulwark_audit_delivery_lag_seconds")
}

// promtoolCheck runs `promtool check metrics` on what url serves; without promtool it
// skips that part loudly, except in CI.
func promtoolCheck(t *testing.T, what, url string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found: CI installs it (.ci/run)")
		}
		t.Logf("SKIPPED part: promtool check metrics on %s (promtool not found)", what)
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(get(t, url, http.StatusOK))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on %s (%s): %v\n%s", what, url, err, out)
	}
}
