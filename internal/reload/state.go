package reload

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
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

	configSum  [32]byte // of the config file bytes the State was parsed from
	policySum  [32]byte // of the policy directory (see policySum)
	openAPISum [32]byte // of the OpenAPI documents the config names, as loaded (see openAPISum)
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
	// The documents' sums are those of the bytes Parse loaded, not a second read, so an edit
	// made while this State is built is still seen by the next poll.
	return &State{Config: cfg, Engine: engine, configSum: sha256.Sum256(data), policySum: psum,
		openAPISum: loadedOpenAPISum(cfg)}, nil
}

// sums are the State's config, policy and OpenAPI sums, as the Reloader compares them.
func (s *State) sums() [3][32]byte { return [3][32]byte{s.configSum, s.policySum, s.openAPISum} }

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

// openAPISum hashes the file name and the sum (docSum) of every OpenAPI document that
// cfg's routes name, in route order: a document edited, replaced or named differently
// changes it. The first error of docSum is returned.
func openAPISum(cfg *config.Config, docSum func(*config.Route) ([32]byte, error)) ([32]byte, error) {
	h := sha256.New()
	for i := range cfg.Gateway.Routes {
		r := &cfg.Gateway.Routes[i]
		if r.OpenAPI == "" {
			continue
		}
		sum, err := docSum(r)
		if err != nil {
			return [32]byte{}, err
		}
		file := cfg.OpenAPIFile(r)
		fmt.Fprintf(h, "%d\x00%s\x00", len(file), file)
		h.Write(sum[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// loadedOpenAPISum is openAPISum of the documents as cfg loaded them.
func loadedOpenAPISum(cfg *config.Config) [32]byte {
	sum, _ := openAPISum(cfg, func(r *config.Route) ([32]byte, error) { return r.APISum, nil })
	return sum
}

// absentDoc stands, in currentOpenAPISum, for a document that does not exist: deleting one
// is a change like any edit.
var absentDoc = sha256.Sum256([]byte("absent OpenAPI document"))

// currentOpenAPISum is openAPISum of the documents cfg names as they are on disk now; absent
// reports that one of them does not exist (it counts as absentDoc). Like the loader, it
// reads at most config.MaxOpenAPISize+1 bytes of each.
func currentOpenAPISum(cfg *config.Config) (sum [32]byte, absent bool, err error) {
	sum, err = openAPISum(cfg, func(r *config.Route) ([32]byte, error) {
		f, err := os.Open(cfg.OpenAPIFile(r))
		if errors.Is(err, fs.ErrNotExist) {
			absent = true
			return absentDoc, nil
		}
		if err != nil {
			return [32]byte{}, fmt.Errorf("read OpenAPI document: %w", err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, io.LimitReader(f, config.MaxOpenAPISize+1)); err != nil {
			return [32]byte{}, fmt.Errorf("read OpenAPI document: %w", err)
		}
		var sum [32]byte
		h.Sum(sum[:0])
		return sum, nil
	})
	return sum, absent, err
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
