package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors every Backend returns, so callers and the API can tell them apart.
var (
	// ErrNotFound: no such secret, or the version asked for is deleted or destroyed.
	ErrNotFound = errors.New("secret not found")
	// ErrCASMismatch: a check-and-set write named a version that is not the current one.
	ErrCASMismatch = errors.New("check-and-set version does not match the current version")
	// ErrInvalid: a path, version list or value the store refuses.
	ErrInvalid = errors.New("invalid secret request")
)

// Limits on what a caller may store; they bound the work one request can cause.
const (
	MaxPathLen     = 512
	MaxPathDepth   = 32
	MaxKeysPerData = 256
	MaxDataBytes   = 512 << 10
)

// Secret is one version of a secret: its key/value data and that version's metadata.
type Secret struct {
	Data    map[string]string
	Version VersionMeta
	// CustomMetadata is the secret's (not the version's) custom metadata.
	CustomMetadata map[string]string
}

// VersionMeta describes one version.
type VersionMeta struct {
	Version      int
	CreatedTime  time.Time
	DeletionTime time.Time // zero unless soft-deleted
	Destroyed    bool
}

// Deleted reports whether the version is soft-deleted (and may be undeleted).
func (v VersionMeta) Deleted() bool { return !v.DeletionTime.IsZero() }

// Metadata describes a secret across its versions. Metadata is not secret: whoever may
// read a secret may read its metadata.
type Metadata struct {
	CreatedTime    time.Time
	UpdatedTime    time.Time
	CurrentVersion int
	OldestVersion  int
	CustomMetadata map[string]string
	Versions       map[int]VersionMeta
}

// WriteOptions tune Put.
type WriteOptions struct {
	// CAS, when set, makes the write succeed only if the current version is *CAS
	// (0: only if the secret does not exist yet); otherwise Put returns ErrCASMismatch.
	CAS *int
}

// Backend stores secrets. Paths are checked with CheckPath before they reach a Backend;
// versions are 1-based. Deleting, undeleting or destroying versions that do not exist is
// not an error (as in Vault), so retries are safe.
type Backend interface {
	// Get returns version (0: the current one). ErrNotFound when missing, deleted or
	// destroyed.
	Get(ctx context.Context, path string, version int) (*Secret, error)
	// Put writes a new version and returns its metadata.
	Put(ctx context.Context, path string, data map[string]string, opts WriteOptions) (VersionMeta, error)
	// Metadata returns the secret's metadata; ErrNotFound when there is none.
	Metadata(ctx context.Context, path string) (*Metadata, error)
	// SetCustomMetadata replaces the secret's custom metadata; ErrNotFound when missing.
	SetCustomMetadata(ctx context.Context, path string, custom map[string]string) error
	// List returns the names under folder ("" for the top), sorted; sub-folders end in
	// "/". An empty folder gives an empty list, not an error.
	List(ctx context.Context, folder string) ([]string, error)
	// Delete soft-deletes versions (none: the current version).
	Delete(ctx context.Context, path string, versions []int) error
	// Undelete restores soft-deleted versions.
	Undelete(ctx context.Context, path string, versions []int) error
	// Destroy removes the data of versions for good; their metadata stays.
	Destroy(ctx context.Context, path string, versions []int) error
	// DeleteAll removes every version and the metadata.
	DeleteAll(ctx context.Context, path string) error
	// Close releases the backend.
	Close() error
}

// CheckPath reports whether p is a valid secret path: segments of [A-Za-z0-9._-] separated
// by single slashes, no "." or ".." segment, no leading or trailing slash, at most
// MaxPathLen bytes and MaxPathDepth segments. The rule keeps paths identical in every
// backend and in URLs, with nothing to escape or normalise.
func CheckPath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty path", ErrInvalid)
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: path longer than %d bytes", ErrInvalid, MaxPathLen)
	}
	segs := strings.Split(p, "/")
	if len(segs) > MaxPathDepth {
		return fmt.Errorf("%w: path deeper than %d segments", ErrInvalid, MaxPathDepth)
	}
	for _, s := range segs {
		if err := checkSegment(s); err != nil {
			return err
		}
	}
	return nil
}

func checkSegment(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty path segment", ErrInvalid)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%w: dot segment in path", ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: path segments may hold only A-Z a-z 0-9 . _ -", ErrInvalid)
		}
	}
	return nil
}

// checkData bounds a secret's data: keys non-empty, at most MaxKeysPerData of them, keys
// and values together at most MaxDataBytes.
func checkData(data map[string]string) error {
	if len(data) > MaxKeysPerData {
		return fmt.Errorf("%w: more than %d keys", ErrInvalid, MaxKeysPerData)
	}
	n := 0
	for k, v := range data {
		if k == "" {
			return fmt.Errorf("%w: empty key in data", ErrInvalid)
		}
		n += len(k) + len(v)
	}
	if n > MaxDataBytes {
		return fmt.Errorf("%w: data larger than %d bytes", ErrInvalid, MaxDataBytes)
	}
	return nil
}

// checkVersions refuses version numbers below 1.
func checkVersions(vs []int) error {
	for _, v := range vs {
		if v < 1 {
			return fmt.Errorf("%w: version %d (versions start at 1)", ErrInvalid, v)
		}
	}
	return nil
}

// children turns paths under folder into the names List returns: the next segment, with
// a trailing "/" when deeper paths exist under it.
func children(folder string, paths []string) []string {
	prefix := ""
	if folder != "" {
		prefix = folder + "/"
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok || rest == "" {
			continue
		}
		name := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name = rest[:i+1]
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}
