package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cedar-policy/cedar-go"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"
)

// EntitiesFile is the name of the optional Cedar entities file (JSON entity format) in the
// policy directory.
const EntitiesFile = "entities.json"

// PositionError is a problem in a policy or entities file, at a line and column when known.
type PositionError struct {
	File         string
	Line, Column int
	Err          error
}

func (e *PositionError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *PositionError) Unwrap() error { return e.Err }

// cedarPos finds "<input>:LINE:COL" in a cedar-go parse error.
var cedarPos = regexp.MustCompile(`(?:parser error: )?(?:parse error at )?<input>:(\d+):(\d+):? ?`)

// parseError turns a cedar-go parse error into a PositionError naming file.
func parseError(file string, err error) error {
	m := cedarPos.FindStringSubmatchIndex(err.Error())
	if m == nil {
		return &PositionError{File: file, Err: err}
	}
	msg := err.Error()
	line, _ := strconv.Atoi(msg[m[2]:m[3]])
	col, _ := strconv.Atoi(msg[m[4]:m[5]])
	return &PositionError{File: file, Line: line, Column: col, Err: errors.New(msg[:m[0]] + msg[m[1]:])}
}

// operatorPolicy is one policy of a *.cedar file.
type operatorPolicy struct {
	compiled
	dryRun bool
}

// loadPolicyDir parses every *.cedar file of dir (not its subdirectories), in name order,
// and validates each policy against the schema. Every problem is returned, each with
// file:line. A policy's id is its @id annotation, or "<file>:<line>" without one.
func loadPolicyDir(dir string, v *validate.Validator) ([]operatorPolicy, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.cedar"))
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	slices.Sort(files)
	var out []operatorPolicy
	var errs []error
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("read policy: %w", err))
			continue
		}
		list, err := cedar.NewPolicyListFromBytes(file, data)
		if err != nil {
			errs = append(errs, parseError(file, err))
			continue
		}
		for _, pol := range list {
			op, err := operatorFromPolicy(file, pol, v)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, op)
		}
	}
	return out, errors.Join(errs...)
}

func operatorFromPolicy(file string, pol *cedar.Policy, v *validate.Validator) (operatorPolicy, error) {
	pos := pol.Position()
	at := func(err error) error {
		return &PositionError{File: file, Line: pos.Line, Column: pos.Column, Err: err}
	}
	ann := pol.Annotations()
	id := string(ann["id"])
	if id == "" {
		id = fmt.Sprintf("%s:%d", filepath.Base(file), pos.Line)
	}
	op := operatorPolicy{compiled: compiled{id: id, policy: pol}}
	if dr, ok := ann["dry_run"]; ok {
		switch dr {
		case "true":
			op.dryRun = true
		case "false":
		default:
			return op, at(fmt.Errorf("policy %q: @dry_run must be \"true\" or \"false\", got %q", id, dr))
		}
	}
	if err := v.Policy(id, (*xast.Policy)(pol.AST())); err != nil {
		return op, at(fmt.Errorf("policy %q does not match the schema: %w", id, err))
	}
	return op, nil
}

// loadEntities reads dir/entities.json if it exists and validates it against the schema.
func loadEntities(dir string, v *validate.Validator) (cedar.EntityMap, error) {
	file := filepath.Join(dir, EntitiesFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return cedar.EntityMap{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read entities: %w", err)
	}
	var em cedar.EntityMap
	if err := json.Unmarshal(data, &em); err != nil {
		return nil, &PositionError{File: file, Err: err}
	}
	var errs []error
	for uid, e := range em {
		err := v.Entity(e)
		if uid.Type == typePath {
			err = checkPathBinding(e)
		}
		if err != nil {
			errs = append(errs, &PositionError{File: file, Err: fmt.Errorf("entity %s: %w", uid, err)})
		}
	}
	return em, errors.Join(errs...)
}

// checkPathBinding checks a Path entity of entities.json. It is not a whole resource but a
// binding that requests below it inherit, so it may carry only the bindable attributes.
func checkPathBinding(e cedar.Entity) error {
	if !strings.HasPrefix(string(e.UID.ID), "/") {
		return errors.New("a Path id must start with /")
	}
	for k, val := range e.Attributes.All() {
		if k != "owner" {
			return fmt.Errorf("attribute %q cannot be bound to a path (only owner)", k)
		}
		if uid, ok := val.(cedar.EntityUID); !ok || uid.Type != typeUser {
			return errors.New(`owner must be a User, e.g. {"__entity": {"type": "User", "id": "alice"}}`)
		}
	}
	for p := range e.Parents.All() {
		if p.Type != typePath && p.Type != typeService {
			return fmt.Errorf("parent %s: a Path may only be in a Path or a Service", p)
		}
	}
	return nil
}
