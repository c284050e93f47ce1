package reload

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
)

// State is one consistent generation of what a running Bulwark decides with. It is
// immutable once built.
type State struct {
	Config *config.Config
	Engine *authz.Engine

	configSum [32]byte // of the config file bytes the State was parsed from
	policySum [32]byte // of the policy directory (see policySum)
}

// Adjust applies what the command line overrides (--state-dir, --gateway-addr) to a freshly
// loaded config, so that a reload compares like with like.
type Adjust func(*config.Config)

// Load reads and validates the config file, applies adjust (may be nil) and compiles the
// engine from it and its policy directory. Every problem is returned, located.
func Load(file string, adjust Adjust) (*State, error) {
	data, err := readConfig(file)
	if err != nil {
		return nil, err
	}
	return build(file, data, adjust)
}

func build(file string, data []byte, adjust Adjust) (*State, error) {
	cfg, err := config.Parse(file, data)
	if err != nil {
		return nil, err
	}
	if adjust != nil {
		adjust(cfg)
	}
	psum, err := policySum(cfg.PolicyDir())
	if err != nil {
		return nil, err
	}
	engine, err := authz.NewEngine(cfg, cfg.PolicyDir())
	if err != nil {
		return nil, err
	}
	return &State{Config: cfg, Engine: engine, configSum: sha256.Sum256(data), policySum: psum}, nil
}

func readConfig(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > config.MaxFileSize {
		return nil, &config.Error{File: file, Msg: fmt.Sprintf("file is larger than %d bytes", config.MaxFileSize)}
	}
	return data, nil
}

// policySum hashes the names and contents of the files the engine reads from dir: its
// *.cedar files and entities.json. A file added, removed, renamed or edited changes it.
func policySum(dir string) ([32]byte, error) {
	h := sha256.New()
	if dir == "" {
		return [32]byte{}, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.cedar"))
	if err != nil {
		return [32]byte{}, fmt.Errorf("list policies: %w", err)
	}
	files = append(files, filepath.Join(dir, authz.EntitiesFile))
	slices.Sort(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // entities.json is optional; a .cedar file may have just been removed
		}
		if err != nil {
			return [32]byte{}, fmt.Errorf("read policy: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), len(data))
		h.Write(data)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}
