package siem

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

func TestHTTPSExportDeliversEveryEventOnceInOrder(t *testing.T) {
	ca := testpki.New(t, "siem.test")
	rcv := newHTTPSReceiver(t, ca)
	rcv.failNext = 2 // the first attempts fail: retried, nothing skipped
	tok, tokFile := newToken(t)
	dir := t.TempDir()
	l := openEventLog(t, dir)
	defer l.Close()
	recordEvents(t, l, 0, 20)
	stop := runExporter(t, config.AuditExport{Name: "siem", Type: config.ExportHTTPS, URL: rcv.srv.URL + "/ingest",
		CAFile: writeCAFile(t, ca), BearerTokenFile: tokFile, BatchSize: 7}, l.Path())
	recordEvents(t, l, 20, 23) // written while the export runs
	waitFor(t, "43 events at the receiver", func() bool { return len(rcv.got()) >= 43 })
	time.Sleep(100 * time.Millisecond) // let a duplicate, if any, arrive
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, want := rcv.got(), logLines(t, l.Path())
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("event %d:\ngot  %s\nwant %s", i, got[i], want[i])
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if slices.Max(rcv.batches) > 7 || len(rcv.batches) < 7 {
		t.Errorf("batches %v: want at most 7 events each", rcv.batches)
	}
	for i, a := range rcv.auth {
		if a != "Bearer "+tok {
			t.Fatalf("request %d: Authorization header is not the token from the file", i)
		}
	}
}

func TestSyslogExportDeliversEveryEventOnceInOrder(t *testing.T) {
	ca := testpki.New(t, "siem.test")
	rcv := newSyslogReceiver(t, ca)
	dir := t.TempDir()
	l := openEventLog(t, dir)
	defer l.Close()
	recordEvents(t, l, 0, 30)
	stop := runExporter(t, config.AuditExport{Name: "syslog", Type: config.ExportSyslog, Address: rcv.ln.Addr().String(),
		CAFile: writeCAFile(t, ca), AppName: "bulwark-test", BatchSize: 4}, l.Path())
	waitFor(t, "30 messages at the receiver", func() bool { m, _ := rcv.got(); return len(m) >= 30 })
	time.Sleep(100 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	msgs, errs := rcv.got()
	if len(errs) > 0 {
		t.Fatalf("receiver could not parse what arrived: %v", errs)
	}
	recs := logLines(t, l.Path())
	if len(msgs) != len(recs) {
		t.Fatalf("got %d messages, want %d", len(msgs), len(recs))
	}
	for i, m := range msgs {
		var ev map[string]any
		if err := json.Unmarshal(recs[i], &ev); err != nil {
			t.Fatal(err)
		}
		wantPri := 13*8 + 6 // log audit, informational: an allowed request
		if ev["outcome"] == "deny" {
			wantPri = 13*8 + 4 // warning
		}
		evTime, _ := time.Parse(time.RFC3339Nano, ev["time"].(string))
		if m.Pri != wantPri || m.AppName != "bulwark-test" || m.MsgID != "authz" || m.ProcID != "-" ||
			m.SDID != "bulwark@32473" || !m.Time.Equal(evTime.Truncate(time.Microsecond)) || !m.HadBOM {
			t.Errorf("message %d header: got pri=%d app=%q msgid=%q procid=%q sdid=%q time=%v bom=%v, want pri=%d app=bulwark-test msgid=authz procid=- sdid=bulwark@32473 time=%v bom=true",
				i, m.Pri, m.AppName, m.MsgID, m.ProcID, m.SDID, m.Time, m.HadBOM, wantPri, evTime)
		}
		if m.Msg != string(recs[i]) {
			t.Errorf("message %d MSG:\ngot  %s\nwant %s", i, m.Msg, recs[i])
		}
		// Every event field arrives as a parameter, arrays as one parameter per element.
		var want [][2]string
		for _, k := range []string{"time", "id", "kind", "component", "outcome", "reason", "request_id", "caller", "method", "path"} {
			want = append(want, [2]string{k, ev[k].(string)})
		}
		got := slices.DeleteFunc(slices.Clone(m.Params), func(p [2]string) bool { return p[0] == "policies" })
		if !slices.Equal(sortedParams(got), sortedParams(want)) {
			t.Errorf("message %d params:\ngot  %q\nwant %q", i, got, want)
		}
		var pol []string
		for _, p := range m.Params {
			if p[0] == "policies" {
				pol = append(pol, p[1])
			}
		}
		if wantPol := ev["policies"]; (wantPol == nil) != (pol == nil) || (pol != nil && !slices.Equal(pol, []string{"p0", "p1"})) {
			t.Errorf("message %d policies: got %q, want %v", i, pol, wantPol)
		}
	}
}

func sortedParams(p [][2]string) [][2]string {
	p = slices.Clone(p)
	slices.SortFunc(p, func(a, b [2]string) int { return strings.Compare(a[0]+"="+a[1], b[0]+"="+b[1]) })
	return p
}

func TestExportResumesAfterRestartWithoutLoss(t *testing.T) {
	ca := testpki.New(t, "siem.test")
	rcv := newHTTPSReceiver(t, ca)
	dir := t.TempDir()
	l := openEventLog(t, dir)
	x := config.AuditExport{Name: "siem", Type: config.ExportHTTPS, URL: rcv.srv.URL, CAFile: writeCAFile(t, ca), BatchSize: 5}
	recordEvents(t, l, 0, 12)
	stop := runExporter(t, x, l.Path())
	waitFor(t, "the first 12 events", func() bool { return len(rcv.got()) >= 12 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The log is closed and reopened too, as a restart of `up` does.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openEventLog(t, dir)
	defer l.Close()
	recordEvents(t, l, 12, 9)
	pos, err := loadPosition(PositionFile(l.Path(), "siem"))
	if err != nil || pos.Count != 12 {
		t.Fatalf("saved position: got %+v (%v), want 12 records", pos, err)
	}
	stop = runExporter(t, x, l.Path())
	waitFor(t, "21 events", func() bool { return len(rcv.got()) >= 21 })
	time.Sleep(100 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, want := rcv.got(), logLines(t, l.Path())
	if len(got) != 21 || len(want) != 21 {
		t.Fatalf("after the restart: receiver has %d events, log %d; want 21 each (each once)", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("event %d differs after the restart:\ngot  %s\nwant %s", i, got[i], want[i])
		}
	}
}

func TestExportRefusesAReceiverWithTheWrongCertificate(t *testing.T) {
	trusted, rogue := testpki.New(t, "siem.test"), testpki.New(t, "siem.test")
	https := newHTTPSReceiver(t, rogue)
	sys := newSyslogReceiver(t, rogue)
	dir := t.TempDir()
	l := openEventLog(t, dir)
	defer l.Close()
	recordEvents(t, l, 0, 3)
	caFile := writeCAFile(t, trusted)
	for _, x := range []config.AuditExport{
		{Name: "https", Type: config.ExportHTTPS, URL: https.srv.URL, CAFile: caFile},
		{Name: "syslog", Type: config.ExportSyslog, Address: sys.ln.Addr().String(), CAFile: caFile},
	} {
		t.Run(x.Type, func(t *testing.T) {
			e, err := FromConfig(withDefaults(x), l.Path(), testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			recs, _, err := e.t.read(10, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = e.o.Sink.Send(ctx, recs)
			var unknown x509.UnknownAuthorityError
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &unknown) && !errors.As(err, &verr) {
				t.Fatalf("Send to a receiver signed by another CA: got %v, want a certificate verification error", err)
			}
			// Running, the exporter keeps retrying and never moves its position.
			stop := runExporter(t, x, l.Path())
			time.Sleep(300 * time.Millisecond)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(PositionFile(l.Path(), x.Name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("position file after refused deliveries: %v, want none", err)
			}
		})
	}
	if got := len(https.got()); got != 0 {
		t.Errorf("the rogue HTTPS receiver got %d events", got)
	}
	if got, _ := sys.got(); len(got) != 0 {
		t.Errorf("the rogue syslog receiver got %d messages", len(got))
	}
}

func TestExportStopsWhenTheLogIsRewritten(t *testing.T) {
	ca := testpki.New(t, "siem.test")
	rcv := newHTTPSReceiver(t, ca)
	dir := t.TempDir()
	l := openEventLog(t, dir)
	recordEvents(t, l, 0, 4)
	path := l.Path()
	x := config.AuditExport{Name: "siem", Type: config.ExportHTTPS, URL: rcv.srv.URL, CAFile: writeCAFile(t, ca)}
	stop := runExporter(t, x, path)
	waitFor(t, "4 events", func() bool { return len(rcv.got()) >= 4 })
	// The position is saved after the receiver answers: wait for it, or a stop in between
	// leaves no position and nothing to find rewritten.
	waitFor(t, "the position of 4 events", func() bool {
		p, err := loadPosition(PositionFile(path, x.Name))
		return err == nil && p.Count == 4
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	b, _ := os.ReadFile(path)
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated", b[:len(b)/2]},
		{"last record changed", bytes.Replace(b, []byte(`"evt-003"`), []byte(`"evt-999"`), 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := FromConfig(withDefaults(x), path, testLogger(t))
			if !errors.Is(err, errRewritten) {
				t.Fatalf("New over a rewritten log: got %v, want errRewritten", err)
			}
		})
	}
}
