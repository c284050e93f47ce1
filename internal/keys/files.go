package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretDir makes sure dir exists and that only trusted users can add or replace files in it.
// Missing directories (dir and any missing parents) are created with mode 0700, whatever the
// umask. An existing directory is never changed: Bulwark may not own it (/run, /var/log, the
// working directory), so it is used as it is, unless group or others can write to it, which
// is refused with an error naming the directory.
func SecretDir(dir string) error {
	dir = filepath.Clean(dir)
	created, err := mkdirSecret(dir)
	if err != nil || created {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("directory %s: mode %04o lets group or others write to it; "+
			"use a directory only its owner can write to (chmod go-w %s)", dir, perm, dir)
	}
	return nil
}

// mkdirSecret creates dir, and its missing parents, each 0700. created reports whether dir
// itself was created here; a directory that already existed is left untouched.
func mkdirSecret(dir string) (created bool, err error) {
	err = os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(dir)
		if parent == dir {
			return false, err
		}
		if _, err := mkdirSecret(parent); err != nil {
			return false, err
		}
		err = os.Mkdir(dir, 0o700)
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		return false, err
	}
	// Mkdir applies the umask; the chmod makes the mode exactly 0700.
	return true, os.Chmod(dir, 0o700)
}

// WriteSecretFile writes data to path atomically (temp file + rename) with mode 0600, in a
// directory that SecretDir accepts, and durably: the file and the rename are synced before
// it returns, so a caller may then remove what the new file replaces (a migrated key).
func WriteSecretFile(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// RemoveDurably removes path, if present, and syncs its directory.
func RemoveDurably(path string) error {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory, making the creations, renames and removals in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeTemp writes data, synced and 0600, to a new temp file beside path and returns its name.
func writeTemp(path string, data []byte) (string, error) {
	dir := filepath.Dir(path)
	if err := SecretDir(dir); err != nil {
		return "", fmt.Errorf("secret dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}
