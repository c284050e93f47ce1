package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// FileLog appends events as JSON lines to one file. It is safe for concurrent use.
type FileLog struct {
	mu  sync.Mutex
	f   *os.File
	now func() time.Time
}

var _ Recorder = (*FileLog)(nil)

// OpenFile opens (or creates, 0600 in a 0700 directory) the log at path for appending.
func OpenFile(path string) (*FileLog, error) {
	if err := keys.SecretDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("audit dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // an existing file may have been created looser
		f.Close()
		return nil, fmt.Errorf("audit log mode: %w", err)
	}
	return &FileLog{f: f, now: time.Now}, nil
}

// Record fills Time and ID when empty and appends e as one line.
func (l *FileLog) Record(_ context.Context, e Event) error {
	line, err := Encode(e, l.now)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(line); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *FileLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
