package cli

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// controlSafeWriter writes JSON with nothing a terminal would act on: `bulwark audit query`
// and `audit prove` print records as stored, and a record's strings hold what clients sent
// (a path, a user name). The encoder escapes C0 controls but not DEL or the C1 controls
// U+0080–U+009F (U+009B is CSI, the start of an escape sequence for many terminals), and a
// tampered file can hold any byte. Each Write must be whole JSON documents (Query's lines,
// prove's indented proof are): DEL and C1 are escaped as \u00XX and invalid UTF-8 becomes
// \ufffd, which can only occur inside strings and keeps the value a JSON reader sees; C0
// bytes, which valid JSON holds raw only as whitespace between tokens (a CR that would hide
// the start of the line), become spaces, newlines excepted.
type controlSafeWriter struct{ w io.Writer }

func (c controlSafeWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			out = append(out, `\ufffd`...)
		case r == 0x7f || r >= 0x80 && r <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, r)
		case r < 0x20 && r != '\n':
			out = append(out, ' ')
		default:
			out = append(out, p[i:i+n]...)
		}
		i += n
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
