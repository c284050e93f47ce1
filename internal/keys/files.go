package keys

import (
	"fmt"
	"os"
	"path/filepath"
)

// SecretDir creates dir (and parents) with mode 0700, and tightens an existing dir to 0700.
func SecretDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// WriteSecretFile writes data to path atomically (temp file + rename) with mode 0600, in a
// directory made 0700.
func WriteSecretFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := SecretDir(dir); err != nil {
		return fmt.Errorf("secret dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
