package siem

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// syslogMsg is one RFC 5424 message as the test's own parser reads it.
type syslogMsg struct {
	Pri                              int
	Version                          int
	Time                             time.Time
	Hostname, AppName, ProcID, MsgID string
	SDID                             string
	Params                           [][2]string // in order; names may repeat
	Msg                              string      // without the BOM
	HadBOM                           bool
}

// readFrame reads one octet-counted frame (RFC 5425 §4.3): MSG-LEN SP SYSLOG-MSG.
func readFrame(r *bufio.Reader) ([]byte, error) {
	lenStr, err := r.ReadString(' ')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(lenStr, " "))
	if err != nil || n <= 0 || lenStr[0] == '0' {
		return nil, fmt.Errorf("bad MSG-LEN %q", lenStr)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// parseSyslog parses SYSLOG-MSG following the ABNF of RFC 5424 §6, with exactly one
// SD-ELEMENT (what the exporter sends).
func parseSyslog(b []byte) (syslogMsg, error) {
	var m syslogMsg
	s := string(b)
	if !strings.HasPrefix(s, "<") {
		return m, errors.New("no PRI")
	}
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return m, errors.New("bad PRI")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri > 191 || (len(s[1:end]) > 1 && s[1] == '0') {
		return m, fmt.Errorf("bad PRI %q", s[1:end])
	}
	m.Pri = pri
	s = s[end+1:]
	next := func(maxLen int) (string, error) {
		i := strings.IndexByte(s, ' ')
		if i <= 0 {
			return "", errors.New("missing header field")
		}
		f := s[:i]
		s = s[i+1:]
		if len(f) > maxLen {
			return "", fmt.Errorf("header field %q longer than %d", f, maxLen)
		}
		for _, c := range []byte(f) {
			if c < 33 || c > 126 {
				return "", fmt.Errorf("header field %q is not PRINTUSASCII", f)
			}
		}
		return f, nil
	}
	v, err := next(3)
	if err != nil || v != "1" {
		return m, fmt.Errorf("VERSION %q, want 1", v)
	}
	m.Version = 1
	ts, err := next(32)
	if err != nil {
		return m, err
	}
	if ts != "-" {
		if frac := strings.IndexByte(ts, '.'); frac >= 0 {
			digits := strings.IndexAny(ts[frac:], "Z+-") - 1
			if digits < 1 || digits > 6 {
				return m, fmt.Errorf("TIME-SECFRAC of %d digits in %q", digits, ts)
			}
		}
		if m.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return m, err
		}
	}
	if m.Hostname, err = next(255); err != nil {
		return m, err
	}
	if m.AppName, err = next(48); err != nil {
		return m, err
	}
	if m.ProcID, err = next(128); err != nil {
		return m, err
	}
	if m.MsgID, err = next(32); err != nil {
		return m, err
	}
	if !strings.HasPrefix(s, "[") {
		return m, errors.New("no SD-ELEMENT")
	}
	s = s[1:]
	i := strings.IndexAny(s, " ]")
	if i <= 0 {
		return m, errors.New("bad SD-ID")
	}
	m.SDID, s = s[:i], s[i:]
	for strings.HasPrefix(s, " ") {
		s = s[1:]
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq > 32 || len(s) < eq+2 || s[eq+1] != '"' {
			return m, fmt.Errorf("bad SD-PARAM at %q", s[:min(len(s), 40)])
		}
		name := s[:eq]
		s = s[eq+2:]
		var val strings.Builder
		closed := false
		for j := 0; j < len(s); j++ {
			c := s[j]
			if c == '\\' && j+1 < len(s) && strings.IndexByte(`"\]`, s[j+1]) >= 0 {
				val.WriteByte(s[j+1])
				j++
				continue
			}
			if c == '"' {
				s, closed = s[j+1:], true
				break
			}
			if c == ']' {
				return m, fmt.Errorf("unescaped ']' in PARAM-VALUE of %s", name)
			}
			val.WriteByte(c)
		}
		if !closed {
			return m, errors.New("unterminated PARAM-VALUE")
		}
		m.Params = append(m.Params, [2]string{name, val.String()})
	}
	if !strings.HasPrefix(s, "]") {
		return m, errors.New("SD-ELEMENT not closed")
	}
	s = s[1:]
	if s == "" {
		return m, nil
	}
	if s[0] != ' ' {
		return m, errors.New("no SP before MSG")
	}
	s = s[1:]
	m.HadBOM = strings.HasPrefix(s, "\xEF\xBB\xBF")
	m.Msg = strings.TrimPrefix(s, "\xEF\xBB\xBF")
	return m, nil
}
