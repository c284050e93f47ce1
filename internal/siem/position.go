package siem

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Position is how far an exporter has delivered: the byte offset just after the last
// record sent, how many records that is, and the SHA-256 of that record, which proves on
// resume that the log still holds it.
type Position struct {
	Offset int64  `json:"offset"`
	Count  uint64 `json:"count"`
	Last   string `json:"last_sha256,omitempty"`
}

// loadPosition reads a position file; a missing file is the start of the log.
func loadPosition(path string) (Position, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("read export position: %w", err)
	}
	var p Position
	if err := json.Unmarshal(b, &p); err != nil {
		return Position{}, fmt.Errorf("export position %s is damaged (%v): delete it to export from the first record", path, err)
	}
	if p.Offset < 0 || (p.Offset == 0) != (p.Count == 0) || (p.Count == 0) != (p.Last == "") {
		return Position{}, fmt.Errorf("export position %s is inconsistent: delete it to export from the first record", path)
	}
	return p, nil
}

// savePosition writes p atomically: a temporary file, fsync, rename, fsync of the directory.
func savePosition(path string, p Position) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write export position: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write export position: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write export position: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write export position: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write export position: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write export position: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: the rename is already visible to this process
		d.Close()
	}
	return nil
}

func recordHash(rec []byte) string {
	h := sha256.Sum256(rec)
	return hex.EncodeToString(h[:])
}
