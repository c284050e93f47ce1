package authz

import (
	"fmt"
	"slices"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/ast"

	"github.com/bulwark-security/bulwark/internal/config"
)

// compiled is one policy and its stable id.
type compiled struct {
	id     string
	policy *cedar.Policy
}

// compileConfig turns the allow rules of bulwark.yaml into Cedar policies, each annotated
// with @id naming its key path, and records every path pattern they use in paths.
//
// A sidecar allow rule, services[i].allow[j], becomes
//
//	@id("services[i].allow[j]")
//	permit (principal == Workload::"<caller SPIFFE ID>", action in [Action::"GET", …], resource is Path)
//	when { resource.service == "<service>" && resource.patterns.containsAny(["/p/*", …]) };
//
// (no action constraint when methods is ["*"]). A gateway route, gateway.routes[i], becomes
//
//	@id("gateway.routes[i]")
//	permit (principal is User, action, resource is Path)
//	when { resource.route == "gateway.routes[i]" && principal.roles.containsAny([…]) && principal.scopes.containsAll([…]) };
//
// with the role and scope terms present only when the route lists them, and "principal"
// unconstrained (Anonymous included) for auth: none. resource.route is the first route
// whose pattern matches, as the gateway routes.
func compileConfig(cfg *config.Config, paths *pathSet) []compiled {
	var out []compiled
	for i, svc := range cfg.Services {
		for j, rule := range svc.Allow {
			id := fmt.Sprintf("services[%d].allow[%d]", i, j)
			p := ast.Permit().
				PrincipalEq(cedar.NewEntityUID(typeWorkload, cedar.String(cfg.WorkloadID(rule.Caller).String()))).
				ResourceIs(typePath)
			if !slices.Contains(rule.Methods, "*") {
				p = p.ActionInSet(actions(rule.Methods)...)
			}
			cond := ast.Resource().Access("service").Equal(ast.String(svc.Name)).
				And(ast.Resource().Access("patterns").ContainsAny(patternSet(rule.Paths, paths)))
			out = append(out, finish(id, p.When(cond)))
		}
	}
	for i, r := range cfg.Gateway.Routes {
		id := routeID(i)
		paths.add(r.Path)
		p := ast.Permit().ResourceIs(typePath)
		if r.Auth != "none" {
			p = p.PrincipalIs(typeUser)
		}
		cond := ast.Resource().Access("route").Equal(ast.String(id))
		if len(r.Roles) > 0 {
			cond = cond.And(ast.Principal().Access("roles").ContainsAny(stringSetNode(r.Roles)))
		}
		if len(r.Scopes) > 0 {
			cond = cond.And(ast.Principal().Access("scopes").ContainsAll(stringSetNode(r.Scopes)))
		}
		out = append(out, finish(id, p.When(cond)))
	}
	return out
}

// routeID is the stable id of gateway route i, also the value of resource.route.
func routeID(i int) string { return config.RouteName(i) }

func finish(id string, p *ast.Policy) compiled {
	p = p.Annotate("id", cedar.String(id))
	pol := cedar.NewPolicyFromAST(p)
	pol.SetFilename("bulwark.yaml")
	return compiled{id: id, policy: pol}
}

func actions(methods []string) []cedar.EntityUID {
	out := make([]cedar.EntityUID, len(methods))
	for i, m := range methods {
		out[i] = cedar.NewEntityUID(typeAction, cedar.String(m))
	}
	return out
}

func patternSet(raw []string, paths *pathSet) ast.Node {
	for _, p := range raw {
		paths.add(p)
	}
	return stringSetNode(raw)
}

func stringSetNode(ss []string) ast.Node {
	nodes := make([]ast.Node, len(ss))
	for i, s := range ss {
		nodes[i] = ast.String(s)
	}
	return ast.Set(nodes...)
}
