package authz

import (
	_ "embed"
	"fmt"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"
)

// Schema is the Cedar schema (Cedar schema syntax) that every request satisfies and every
// operator policy and entities.json is validated against.
//
//go:embed schema.cedarschema
var Schema string

// Entity types and the action type of the model.
const (
	typeUser      cedar.EntityType = "User"
	typeAnonymous cedar.EntityType = "Anonymous"
	typeWorkload  cedar.EntityType = "Workload"
	typeService   cedar.EntityType = "Service"
	typePath      cedar.EntityType = "Path"
	typeAction    cedar.EntityType = "Action"
)

// newValidator resolves the embedded schema.
func newValidator() (*validate.Validator, error) {
	var s schema.Schema
	s.SetFilename("schema.cedarschema")
	if err := s.UnmarshalCedar([]byte(Schema)); err != nil {
		return nil, fmt.Errorf("parse cedar schema: %w", err)
	}
	r, err := s.Resolve()
	if err != nil {
		return nil, fmt.Errorf("resolve cedar schema: %w", err)
	}
	return validate.New(r), nil
}
