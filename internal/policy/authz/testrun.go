package authz

import (
	"fmt"
	"io"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/config"
)

// Engine builds the engine the file names: its config and policy directory.
func (tf *TestFile) Engine() (*Engine, error) {
	cfg, err := config.Load(tf.rel(tf.Config))
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	dir := tf.rel(tf.Policies)
	if tf.Policies == "" {
		dir = ""
	}
	return NewEngine(cfg, dir)
}

// Run decides every case with e, prints one line per case and a summary to w, and returns
// the number of failed cases.
func (tf *TestFile) Run(e *Engine, w io.Writer) int {
	failed := 0
	for _, c := range tf.Cases {
		v := e.decideCase(c, tf.Context)
		got := v.Outcome()
		ok := got == c.Expect && (c.ExpectPolicy == "" || v.HasPolicy(c.ExpectPolicy))
		ids := strings.Join(append(append([]string{}, v.Policies...), v.DryRun...), ", ")
		if ok {
			fmt.Fprintf(w, "ok    %s: %s [%s]\n", c.Name, got, ids)
			continue
		}
		failed++
		want := c.Expect
		if c.ExpectPolicy != "" {
			want += " by " + c.ExpectPolicy
		}
		fmt.Fprintf(w, "FAIL  %s (%s:%d): got %s [%s], want %s\n", c.Name, tf.file, c.line, got, ids, want)
		for _, pe := range v.Errors {
			fmt.Fprintf(w, "      error in %s: %s\n", pe.Policy, pe.Message)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", len(tf.Cases)-failed, failed)
	return failed
}

// decideCase turns a case into a request.
func (e *Engine) decideCase(c TestCase, defaults TestContext) Verdict {
	ctx, _ := c.Context.resolve(defaults) // checked by LoadTestFile
	p := c.Principal
	if p.Workload == "" {
		u := User{Name: p.User, Roles: p.Roles, Scopes: p.Scopes, Client: p.Client}
		return e.DecideUser(UserRequest{User: u, Method: c.Method, Path: c.Path, Context: ctx})
	}
	req := WorkloadRequest{
		Caller:  e.workloadID(p.Workload),
		Service: c.Service,
		Method:  c.Method,
		Path:    c.Path,
		Context: ctx,
	}
	if eu := c.EndUser; eu != nil {
		req.EndUser = &User{Name: eu.User, Roles: eu.Roles, Scopes: eu.Scopes, Client: eu.Client}
	}
	return e.DecideWorkload(req)
}

// workloadID is spiffe://<trust domain>/svc/<name>; an invalid name gives the zero ID,
// which no policy names.
func (e *Engine) workloadID(name string) spiffeid.ID {
	id, _ := spiffeid.FromSegments(e.gateway.TrustDomain(), "svc", name)
	return id
}
