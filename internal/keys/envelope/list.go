package envelope

import (
	"context"
	"errors"
	"time"
)

// KeyInfo describes one key and its versions, never its material.
type KeyInfo struct {
	Key      string        `json:"key"` // "kek" or "data/<service>/<purpose>"
	Service  string        `json:"service,omitempty"`
	Purpose  string        `json:"purpose,omitempty"`
	Versions []VersionInfo `json:"versions"`
	// KEKVersion is the KEK version that wraps a data key.
	KEKVersion int `json:"kek_version,omitempty"`
}

// VersionInfo is one version of a key.
type VersionInfo struct {
	Version int       `json:"version"`
	KeyID   uint32    `json:"key_id"` // the id a ciphertext carries
	Created time.Time `json:"created"`
	Primary bool      `json:"primary"`
	Enabled bool      `json:"enabled"`
}

// List reads every key from disk (so it shows what other processes did too), opening each
// one, so a key that no longer opens is reported as an error rather than listed.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	k, err := m.freshKEK()
	if err != nil {
		return nil, err
	}
	out := []KeyInfo{{Key: "kek", Versions: versionInfo(k.keyState)}}
	refs, err := listDEKs(m.dir)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := readDEK(m.dir, r, k)
		if errors.Is(err, ErrUnwrap) {
			// Rewrapped under a KEK version rotated in after the KEK was read above.
			if k, err = m.freshKEK(); err == nil {
				d, err = readDEK(m.dir, r, k)
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, KeyInfo{Key: dataKeyName(r), Service: r.service, Purpose: r.purpose,
			Versions: versionInfo(d.keyState), KEKVersion: d.kekVersion})
	}
	out[0].Versions = versionInfo(k.keyState) // the KEK as last read
	return out, nil
}

func versionInfo(k *keyState) []VersionInfo {
	primary := k.handle.KeysetInfo().GetPrimaryKeyId()
	var out []VersionInfo
	for _, v := range k.versions {
		out = append(out, VersionInfo{Version: v.Version, KeyID: v.KeyID, Created: v.Created,
			Primary: v.KeyID == primary, Enabled: k.hasEnabled(v.KeyID)})
	}
	return out
}
