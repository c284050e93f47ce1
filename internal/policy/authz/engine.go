package authz

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/policy"
)

// Engine decides edge and mesh requests with one Cedar policy set: the policies compiled
// from bulwark.yaml plus the operator's *.cedar files. It is immutable once built and safe
// for concurrent use; reloading is building a new Engine and swapping it in.
type Engine struct {
	enforced  *cedar.PolicySet // policies without @dry_run("true")
	dryPermit *cedar.PolicySet
	dryForbid *cedar.PolicySet
	nDryPerm  int
	nDryForb  int
	effects   map[cedar.PolicyID]cedar.Effect
	text      []byte // every policy, in Cedar syntax, for `bulwark policy show` and debugging
	entities  cedar.EntityMap
	paths     *pathSet
	routes    []route
	gateway   spiffeid.ID
	cache     *entityCache // nil: every entity built per request (the benchmarks' baseline)
}

type route struct {
	pattern policy.Pattern
	id      string
	service string
}

// NewEngine compiles cfg's allow rules and routes and adds the *.cedar policies and the
// optional entities.json of policyDir ("" for none). cfg must have been validated
// (config.Load does). Every problem is returned at once, each with file:line; duplicate
// policy ids are errors.
func NewEngine(cfg *config.Config, policyDir string) (*Engine, error) {
	v, err := newValidator()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		enforced:  cedar.NewPolicySet(),
		dryPermit: cedar.NewPolicySet(),
		dryForbid: cedar.NewPolicySet(),
		effects:   map[cedar.PolicyID]cedar.Effect{},
		entities:  cedar.EntityMap{},
		paths:     newPathSet(),
		gateway:   cfg.WorkloadID("gateway"),
		cache:     newEntityCache(),
	}
	for i, r := range cfg.Gateway.Routes {
		p, err := policy.ParsePattern(r.Path)
		if err != nil {
			return nil, fmt.Errorf("gateway.routes[%d].path: %w", i, err)
		}
		e.routes = append(e.routes, route{pattern: p, id: routeID(i), service: r.Service})
	}
	var ops []operatorPolicy
	for _, c := range compileConfig(cfg, e.paths) {
		ops = append(ops, operatorPolicy{compiled: c})
	}
	var errs []error
	if policyDir != "" {
		files, err := loadPolicyDir(policyDir, v)
		errs = append(errs, err)
		ops = append(ops, files...)
		e.entities, err = loadEntities(policyDir, v)
		errs = append(errs, err)
	}
	seen := map[string]cedar.Position{}
	for _, op := range ops {
		pos := op.policy.Position()
		if prev, dup := seen[op.id]; dup {
			errs = append(errs, &PositionError{File: pos.Filename, Line: pos.Line, Column: pos.Column,
				Err: fmt.Errorf("duplicate policy id %q (also at %s:%d)", op.id, prev.Filename, prev.Line)})
			continue
		}
		seen[op.id] = pos
		e.add(op)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

// add files a policy under its id in the set its effect and dry-run mode select.
func (e *Engine) add(op operatorPolicy) {
	id := cedar.PolicyID(op.id)
	e.paths.addLiterals(op.policy)
	e.effects[id] = op.policy.Effect()
	e.text = append(e.text, op.policy.MarshalCedar()...)
	e.text = append(e.text, "\n\n"...)
	switch {
	case !op.dryRun:
		e.enforced.Add(id, op.policy)
	case op.policy.Effect() == cedar.Forbid:
		e.dryForbid.Add(id, op.policy)
		e.nDryForb++
	default:
		e.dryPermit.Add(id, op.policy)
		e.nDryPerm++
	}
}

// PolicyText returns every policy of the engine in Cedar syntax, each with its @id.
func (e *Engine) PolicyText() string { return strings.TrimSpace(string(e.text)) + "\n" }

// DecideUser decides a request at the edge. The principal is User::"<name>" (or
// Anonymous::"anonymous" without a token) and the resource the request's Path, with
// resource.route and resource.service set from the first gateway route that matches.
func (e *Engine) DecideUser(req UserRequest) Verdict {
	ents := &requestEntities{static: e.entities}
	principal := cedar.NewEntityUID(typeAnonymous, "anonymous")
	if req.User.Name != "" {
		u := e.user(req.User)
		principal = u.UID
		ents.add(u)
	}
	routeID, service := "", ""
	for _, r := range e.routes {
		if r.pattern.Match(req.Path) {
			routeID, service = r.id, r.service
			break
		}
	}
	res := e.resource(req.Path, service, routeID)
	ents.add(res)
	return e.decide(ents, cedar.Request{
		Principal: principal,
		Action:    cedar.NewEntityUID(typeAction, cedar.String(req.Method)),
		Resource:  res.UID,
		Context:   contextRecord(req.Context, req.Context.MTLS, nil),
	})
}

// DecideWorkload decides an inbound request at the sidecar of req.Service. The principal
// is Workload::"<caller SPIFFE ID>"; context.mtls is true; context.user is the end user the
// gateway asserted, only when the caller is the gateway.
func (e *Engine) DecideWorkload(req WorkloadRequest) Verdict {
	ents := &requestEntities{static: e.entities}
	w := e.workload(req.Caller)
	ents.add(w)
	var user *cedar.EntityUID
	if req.EndUser != nil && req.EndUser.Name != "" && req.Caller == e.gateway {
		u := e.user(*req.EndUser)
		ents.add(u)
		user = &u.UID
	}
	res := e.resource(req.Path, req.Service, "")
	ents.add(res)
	return e.decide(ents, cedar.Request{
		Principal: w.UID,
		Action:    cedar.NewEntityUID(typeAction, cedar.String(req.Method)),
		Resource:  res.UID,
		Context:   contextRecord(req.Context, true, user),
	})
}

// pathEntity builds the request's Path resource: its computed attributes, plus the
// attributes and membership of every Path entity of entities.json whose id is a segment
// prefix of path (longer prefixes override shorter ones; computed attributes win).
func (e *Engine) pathEntity(path, service, routeID string) cedar.Entity {
	attrs := cedar.RecordMap{}
	var parents []cedar.EntityUID
	for _, p := range prefixes(path) {
		st, ok := e.entities[cedar.NewEntityUID(typePath, cedar.String(p))]
		if !ok {
			continue
		}
		for k, v := range st.Attributes.All() {
			attrs[k] = v
		}
		if p != path {
			parents = append(parents, st.UID)
		} else {
			parents = append(parents, st.Parents.Slice()...)
		}
	}
	if service != "" {
		parents = append(parents, cedar.NewEntityUID(typeService, cedar.String(service)))
	}
	attrs["service"] = cedar.String(service)
	attrs["path"] = cedar.String(path)
	attrs["depth"] = cedar.Long(depth(path))
	attrs["patterns"] = e.paths.match(path)
	attrs["route"] = cedar.String(routeID)
	return cedar.Entity{
		UID:        cedar.NewEntityUID(typePath, cedar.String(path)),
		Parents:    cedar.NewEntityUIDSet(parents...),
		Attributes: cedar.NewRecord(attrs),
	}
}
