package audittest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Kill9 runs the test binary's test named test again as a child process with env added,
// reads the "acked <id>" lines the child prints, kills it with SIGKILL once it
// acknowledged n, and returns every id it acknowledged before the kill. The kill -9 tests
// of the audit log and of the spool share it; the child's side is theirs.
func Kill9(t *testing.T, test string, env []string, n int) map[string]bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	sc.Split(wholeLines)
	read := func() {
		if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked[id] = true
		}
	}
	deadline := time.After(30 * time.Second)
	for len(acked) < n && sc.Scan() {
		read()
		select {
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("the child acknowledged %d events within 30 s, want %d", len(acked), n)
		default:
		}
	}
	cmd.Process.Kill()
	for sc.Scan() { // acknowledgements written before the kill still count
		read()
	}
	cmd.Wait()
	if len(acked) < n {
		t.Fatalf("the child acknowledged %d events, want %d", len(acked), n)
	}
	return acked
}

// wholeLines is bufio.ScanLines without a last line that has no newline: the kill can cut
// the child's last line short ("acked k3" of "acked k31"), which would name another event.
func wholeLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF {
		return len(data), nil, nil
	}
	return 0, nil, nil
}
