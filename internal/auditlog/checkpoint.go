package auditlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed statement that the log's first Size events have Merkle root Root.
// Its text follows the transparency-dev checkpoint convention (origin, size, base64 root),
// with one extension line: "time <RFC 3339>", when it was signed.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	Time   time.Time
	// Note is the signed note as stored: text, blank line, signature lines.
	Note []byte
}

// maxNoteSize bounds a stored checkpoint; real ones are a few hundred bytes.
const maxNoteSize = 64 << 10

func checkpointText(origin string, size uint64, root []byte, t time.Time) string {
	return fmt.Sprintf("%s\n%d\n%s\ntime %s\n", origin, size,
		base64.StdEncoding.EncodeToString(root), t.UTC().Format(time.RFC3339Nano))
}

// parseCheckpointText parses a checkpoint's (already verified) text.
func parseCheckpointText(text string) (Checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root lines")
	}
	cp := Checkpoint{Origin: lines[0]}
	if cp.Origin == "" {
		return Checkpoint{}, errors.New("checkpoint: empty origin")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("checkpoint: size %q is not a decimal number", lines[1])
	}
	cp.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != rfc6962.DefaultHasher.Size() {
		return Checkpoint{}, fmt.Errorf("checkpoint: root %q is not a base64 SHA-256 hash", lines[2])
	}
	cp.Root = root
	for _, l := range lines[3:] {
		if v, ok := strings.CutPrefix(l, "time "); ok {
			if cp.Time, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return Checkpoint{}, fmt.Errorf("checkpoint: time: %w", err)
			}
		}
	}
	return cp, nil
}

// openCheckpoint verifies a signed checkpoint with v and parses it.
func openCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	cp, err := parseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	cp.Note = msg
	return cp, nil
}

func signCheckpoint(s note.Signer, origin string, size uint64, root []byte, t time.Time) (Checkpoint, error) {
	text := checkpointText(origin, size, root, t)
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint: %w", err)
	}
	return Checkpoint{Origin: origin, Size: size, Root: root, Time: t.UTC(), Note: msg}, nil
}

// readCheckpointFile reads and verifies one checkpoint file.
func readCheckpointFile(path string, v note.Verifier) (Checkpoint, error) {
	b, err := readRegular(path, maxNoteSize)
	if err != nil {
		return Checkpoint{}, err
	}
	cp, err := openCheckpoint(b, v)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%s: %w", path, err)
	}
	return cp, nil
}

// appendHistory frames one signed note for events.checkpoints: "<length>\n<note>".
func appendHistory(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, '\n')
	return append(dst, msg...)
}

// readHistory returns the notes in a checkpoints history, unverified, and the length of
// its well-formed prefix: a crash can leave a torn last entry, which the writer cuts.
func readHistory(r io.Reader) (notes [][]byte, good int64, err error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl <= 0 || nl > 10 {
			break
		}
		n, err := strconv.Atoi(string(b[:nl]))
		if err != nil || n <= 0 || n > maxNoteSize || len(b)-nl-1 < n {
			break
		}
		notes = append(notes, b[nl+1:nl+1+n])
		good += int64(nl + 1 + n)
		b = b[nl+1+n:]
	}
	return notes, good, nil
}
