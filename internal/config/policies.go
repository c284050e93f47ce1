package config

import (
	"os"
	"path/filepath"
)

// PolicyDir returns the operator's policy directory, or "" when none is configured. A
// relative `policies` is resolved against the directory of the config file, like the paths
// of a policy test file (`bulwark policy test`), so that a config and its policies can be
// moved, copied or mounted together. (state_dir and the *_file keys, older, are resolved
// against the working directory.)
func (c *Config) PolicyDir() string {
	if c.Policies == "" {
		return ""
	}
	if filepath.IsAbs(c.Policies) {
		return filepath.Clean(c.Policies)
	}
	return filepath.Join(filepath.Dir(c.file), c.Policies)
}

// validatePolicies checks that a configured policy directory exists: a typo must not
// silently mean "no operator policies".
func (c *Config) validatePolicies() []error {
	dir := c.PolicyDir()
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return []error{c.errAt("policies", "policy directory %s: %v", dir, unwrapPathError(err))}
	case !fi.IsDir():
		return []error{c.errAt("policies", "%s is not a directory", dir)}
	}
	return nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
