package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// VaultOptions configure OpenVault.
type VaultOptions struct {
	// Address is the server's URL, e.g. https://vault.example:8200.
	Address string
	// Mount is the KV v2 engine's mount path, e.g. "secret".
	Mount string
	// Token authenticates every request. Read it from a file; never from config.
	Token string
	// CACert is a PEM file to trust for the server's TLS; empty: the system roots.
	CACert string
	// Namespace is the Vault Enterprise / OpenBao namespace; empty for none.
	Namespace string
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
}

// Vault is the HashiCorp Vault (or OpenBao) KV version 2 backend. It speaks the HTTP API
// through the official client's Logical interface rather than its KVv2 helpers, because
// those put the secret path into their error text, and paths must stay out of logs.
type Vault struct {
	c     *vault.Client
	mount string
}

var _ Backend = (*Vault)(nil)

// OpenVault builds a client; it does not contact the server.
func OpenVault(o VaultOptions) (*Vault, error) {
	u, err := url.Parse(o.Address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("secrets: vault address: want http(s)://HOST[:PORT]")
	}
	mount := strings.Trim(o.Mount, "/")
	if err := CheckPath(mount); err != nil {
		return nil, fmt.Errorf("secrets: vault mount: %w", err)
	}
	if o.Token == "" {
		return nil, errors.New("secrets: vault: no token")
	}
	cfg := vault.DefaultConfig()
	cfg.Address = o.Address
	cfg.Timeout = o.Timeout
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if o.CACert != "" {
		if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: o.CACert}); err != nil {
			return nil, fmt.Errorf("secrets: vault tls: %w", err)
		}
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("secrets: vault client: %w", err)
	}
	// NewClient may have picked up VAULT_* variables from the environment; the config
	// decides.
	c.SetToken(o.Token)
	c.SetNamespace(o.Namespace)
	if err := c.SetAddress(o.Address); err != nil {
		return nil, fmt.Errorf("secrets: vault address: %w", err)
	}
	return &Vault{c: c, mount: mount}, nil
}

// Close does nothing: the client holds no resources that need release.
func (v *Vault) Close() error { return nil }

func (v *Vault) api(kind, path string) string { return v.mount + "/" + kind + "/" + path }

// vaultErr turns a client error into one of this package's, keeping only the status and
// Vault's own messages: the client's error text includes the URL, hence the path.
func vaultErr(op string, err error) error {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusNotFound:
			return ErrNotFound
		case re.StatusCode == http.StatusBadRequest && slices.ContainsFunc(re.Errors, func(s string) bool { return strings.Contains(s, "check-and-set") }):
			return ErrCASMismatch
		case re.StatusCode == http.StatusBadRequest:
			return fmt.Errorf("%w: vault %s: status 400", ErrInvalid, op)
		}
		return fmt.Errorf("secrets: vault %s: status %d", op, re.StatusCode)
	}
	// A transport error is a *url.Error whose text holds the URL: keep only its cause
	// (connection refused, TLS, timeout), which names no path.
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("secrets: vault %s: %s: %w", op, ue.Op, ue.Err)
	}
	for _, ce := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ce) {
			return fmt.Errorf("secrets: vault %s: %w", op, ce)
		}
	}
	return fmt.Errorf("secrets: vault %s: request failed", op)
}

func (v *Vault) Get(ctx context.Context, path string, version int) (*Secret, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, fmt.Errorf("%w: version %d", ErrInvalid, version)
	}
	var q map[string][]string
	if version > 0 {
		q = map[string][]string{"version": {strconv.Itoa(version)}}
	}
	s, err := v.c.Logical().ReadWithDataWithContext(ctx, v.api("data", path), q)
	if err != nil {
		return nil, vaultErr("read", err)
	}
	if s == nil || s.Data == nil {
		return nil, ErrNotFound
	}
	raw, ok := s.Data["data"].(map[string]any)
	if !ok { // deleted or destroyed: Vault answers 404 with the metadata and null data
		return nil, ErrNotFound
	}
	out := &Secret{Data: map[string]string{}}
	for k, val := range raw {
		out.Data[k] = stringValue(val)
	}
	md, _ := s.Data["metadata"].(map[string]any)
	out.Version = versionMeta(md)
	if out.Version.Deleted() || out.Version.Destroyed {
		return nil, ErrNotFound
	}
	out.CustomMetadata = stringMap(md["custom_metadata"])
	return out, nil
}

func (v *Vault) Put(ctx context.Context, path string, data map[string]string, o WriteOptions) (VersionMeta, error) {
	if err := CheckPath(path); err != nil {
		return VersionMeta{}, err
	}
	if err := checkData(data); err != nil {
		return VersionMeta{}, err
	}
	d := make(map[string]any, len(data))
	for k, val := range data {
		d[k] = val
	}
	body := map[string]any{"data": d}
	if o.CAS != nil {
		body["options"] = map[string]any{"cas": *o.CAS}
	}
	s, err := v.c.Logical().WriteWithContext(ctx, v.api("data", path), body)
	if err != nil {
		return VersionMeta{}, vaultErr("write", err)
	}
	if s == nil {
		return VersionMeta{}, errors.New("secrets: vault write: empty response")
	}
	return versionMeta(s.Data), nil
}

func (v *Vault) Metadata(ctx context.Context, path string) (*Metadata, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	s, err := v.c.Logical().ReadWithContext(ctx, v.api("metadata", path))
	if err != nil {
		return nil, vaultErr("read metadata", err)
	}
	if s == nil || s.Data == nil {
		return nil, ErrNotFound
	}
	m := &Metadata{
		CreatedTime:    parseTime(s.Data["created_time"]),
		UpdatedTime:    parseTime(s.Data["updated_time"]),
		CurrentVersion: intValue(s.Data["current_version"]),
		OldestVersion:  intValue(s.Data["oldest_version"]),
		CustomMetadata: stringMap(s.Data["custom_metadata"]),
		Versions:       map[int]VersionMeta{},
	}
	vs, _ := s.Data["versions"].(map[string]any)
	for k, raw := range vs {
		n, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		rm, _ := raw.(map[string]any)
		vm := versionMeta(rm)
		vm.Version = n
		m.Versions[n] = vm
	}
	return m, nil
}

func (v *Vault) SetCustomMetadata(ctx context.Context, path string, custom map[string]string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	if err := checkData(custom); err != nil {
		return err
	}
	// Vault creates metadata for a path with none; the Backend contract says ErrNotFound.
	if _, err := v.Metadata(ctx, path); err != nil {
		return err
	}
	cm := map[string]any{}
	for k, val := range custom {
		cm[k] = val
	}
	// PATCH semantics would merge; a POST replaces custom_metadata and leaves the other
	// metadata settings at what the request omits.
	_, err := v.c.Logical().WriteWithContext(ctx, v.api("metadata", path), map[string]any{"custom_metadata": cm})
	if err != nil {
		return vaultErr("write metadata", err)
	}
	return nil
}

func (v *Vault) List(ctx context.Context, folder string) ([]string, error) {
	p := v.mount + "/metadata/"
	if folder != "" {
		if err := CheckPath(folder); err != nil {
			return nil, err
		}
		p += folder + "/"
	}
	s, err := v.c.Logical().ListWithContext(ctx, p)
	if err != nil {
		return nil, vaultErr("list", err)
	}
	if s == nil || s.Data == nil {
		return []string{}, nil
	}
	raw, _ := s.Data["keys"].([]any)
	out := make([]string, 0, len(raw))
	for _, k := range raw {
		if str, ok := k.(string); ok {
			out = append(out, str)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (v *Vault) Delete(ctx context.Context, path string, versions []int) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	if err := checkVersions(versions); err != nil {
		return err
	}
	var err error
	if len(versions) == 0 {
		_, err = v.c.Logical().DeleteWithContext(ctx, v.api("data", path))
	} else {
		_, err = v.c.Logical().WriteWithContext(ctx, v.api("delete", path), map[string]any{"versions": versions})
	}
	return v.ignoreNotFound("delete", err)
}

func (v *Vault) Undelete(ctx context.Context, path string, versions []int) error {
	return v.versionsOp(ctx, "undelete", path, versions)
}

func (v *Vault) Destroy(ctx context.Context, path string, versions []int) error {
	return v.versionsOp(ctx, "destroy", path, versions)
}

func (v *Vault) versionsOp(ctx context.Context, op, path string, versions []int) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	if len(versions) == 0 {
		return fmt.Errorf("%w: no versions to %s", ErrInvalid, op)
	}
	if err := checkVersions(versions); err != nil {
		return err
	}
	_, err := v.c.Logical().WriteWithContext(ctx, v.api(op, path), map[string]any{"versions": versions})
	return v.ignoreNotFound(op, err)
}

func (v *Vault) DeleteAll(ctx context.Context, path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	_, err := v.c.Logical().DeleteWithContext(ctx, v.api("metadata", path))
	return v.ignoreNotFound("delete metadata", err)
}

// ignoreNotFound: changing versions of a missing secret is not an error (see Backend).
func (v *Vault) ignoreNotFound(op string, err error) error {
	if err == nil {
		return nil
	}
	if err = vaultErr(op, err); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func versionMeta(m map[string]any) VersionMeta {
	return VersionMeta{
		Version:      intValue(m["version"]),
		CreatedTime:  parseTime(m["created_time"]),
		DeletionTime: parseTime(m["deletion_time"]),
		Destroyed:    m["destroyed"] == true,
	}
}

func intValue(v any) int {
	switch n := v.(type) {
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	case float64:
		return int(n)
	case int:
		return n
	}
	return 0
}

func parseTime(v any) time.Time {
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// stringValue keeps strings as they are and JSON-encodes anything else a Vault secret may
// hold (numbers, booleans, objects), so no value is lost.
func stringValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, val := range m {
		out[k] = stringValue(val)
	}
	return out
}
