package siem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Syslog constants (RFC 5424 §6.2.1). Audit events go to facility 13, "log audit".
const (
	facilityLogAudit = 13
	sevWarning       = 4
	sevNotice        = 5
	sevInfo          = 6
	// sdID names Bulwark's structured-data element. 32473 is the private enterprise
	// number that RFC 5612 reserves for documentation and examples; a deployment with its
	// own number can still match on the name.
	sdID = "bulwark@32473"
)

// stateChanging are the kinds whose allowed events change something: notice, not info.
var stateChanging = map[string]bool{
	"token": true, "svid": true, "key_rotation": true, "db_credentials": true,
	"config_change": true, "policy_change": true, "admin": true,
}

// field is one top-level member of an event, in the order it was stored.
type field struct {
	name   string
	values []string // one for a scalar, one per element for an array
}

// eventFields decodes one record into its top-level members, keeping their order. Strings
// are taken as they are, numbers and booleans as written, arrays as one value per element
// and objects as their JSON text.
func eventFields(rec []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var obj []json.RawMessage
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("record is not a JSON object")
	}
	var out []field
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		f := field{name: k.(string)}
		if len(raw) > 0 && raw[0] == '[' {
			if err := json.Unmarshal(raw, &obj); err != nil {
				return nil, err
			}
			for _, el := range obj {
				f.values = append(f.values, scalar(el))
			}
		} else {
			f.values = []string{scalar(raw)}
		}
		out = append(out, f)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the record")
	}
	return out, nil
}

func scalar(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// severity maps an event to a syslog severity.
func severity(kind, outcome string) int {
	switch {
	case outcome != "allow":
		return sevWarning
	case stateChanging[kind]:
		return sevNotice
	default:
		return sevInfo
	}
}

// formatSyslog renders one record as an RFC 5424 message (without framing).
func formatSyslog(rec []byte, hostname, appName string) ([]byte, error) {
	fields, err := eventFields(rec)
	if err != nil {
		return nil, err
	}
	get := func(name string) string {
		for _, f := range fields {
			if f.name == name && len(f.values) == 1 {
				return f.values[0]
			}
		}
		return ""
	}
	kind, outcome := get("kind"), get("outcome")
	ts := "-"
	if t, err := time.Parse(time.RFC3339Nano, get("time")); err == nil {
		// TIME-SECFRAC has at most six digits (RFC 5424 §6.2.3).
		ts = t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%d>1 %s %s %s - %s [%s", facilityLogAudit*8+severity(kind, outcome), ts,
		headerField(hostname, 255), headerField(appName, 48), headerField(kind, 32), sdID)
	for _, f := range fields {
		name := paramName(f.name)
		if name == "" {
			continue
		}
		for _, v := range f.values {
			b.WriteByte(' ')
			b.WriteString(name)
			b.WriteString(`="`)
			writeParamValue(&b, v)
			b.WriteByte('"')
		}
	}
	b.WriteString("] \xEF\xBB\xBF") // MSG is UTF-8: announce it with the BOM (§6.4)
	b.Write(rec)
	return b.Bytes(), nil
}

// headerField returns s as a header field: printable US-ASCII, at most n octets, "-" if empty.
func headerField(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// paramName returns name as a PARAM-NAME: printable US-ASCII except '=', ' ', ']' and
// '"', at most 32 octets; "" when nothing is left.
func paramName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name) && b.Len() < 32; i++ {
		c := name[i]
		if c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// writeParamValue escapes '"', '\' and ']' (§6.3.3) and replaces invalid UTF-8.
func writeParamValue(b *bytes.Buffer, v string) {
	for _, r := range v {
		switch r {
		case '"', '\\', ']':
			b.WriteByte('\\')
		}
		if r == utf8.RuneError {
			b.WriteString("\uFFFD")
			continue
		}
		b.WriteRune(r)
	}
}

// frame prefixes msg with its length: octet counting (RFC 5425 §4.3).
func frame(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}
