package authz

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestFile is a policy test file (`bulwark policy test FILE`): a config, a policy
// directory, and request → expected decision cases. Paths are relative to the file.
type TestFile struct {
	Config   string      `yaml:"config"`
	Policies string      `yaml:"policies"`
	Context  TestContext `yaml:"context"` // defaults for every case
	Cases    []TestCase  `yaml:"cases"`

	file string
}

// TestCase is one request and the decision it must get.
type TestCase struct {
	Name      string         `yaml:"name"`
	Principal TestPrincipal  `yaml:"principal"`
	Service   string         `yaml:"service"`  // workload cases: the callee
	EndUser   *TestPrincipal `yaml:"end_user"` // workload cases: the user the gateway asserted
	Method    string         `yaml:"method"`
	Path      string         `yaml:"path"`
	Context   TestContext    `yaml:"context"`
	// Expect is allow, deny or would_deny.
	Expect string `yaml:"expect"`
	// ExpectPolicy, if set, must be among the verdict's Policies or DryRun.
	ExpectPolicy string `yaml:"expect_policy"`

	line int
}

// TestPrincipal is a user (user, roles, scopes, client), a workload (workload: service
// name), or, when empty, an anonymous request.
type TestPrincipal struct {
	User     string   `yaml:"user"`
	Roles    []string `yaml:"roles"`
	Scopes   []string `yaml:"scopes"`
	Client   string   `yaml:"client"`
	Workload string   `yaml:"workload"`
}

// TestContext is a request context; unset fields take the file's defaults, then
// source_ip 127.0.0.1, time 2026-01-05T12:00:00Z (a Monday, noon UTC), mtls false.
type TestContext struct {
	SourceIP string `yaml:"source_ip"`
	Time     string `yaml:"time"`
	MTLS     *bool  `yaml:"mtls"`
}

// LoadTestFile reads and checks a test file. Every problem is reported at once, as
// file:line: message.
func LoadTestFile(path string) (*TestFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	tf := &TestFile{file: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(tf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	caseLines(&root, tf.Cases)
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...)))
	}
	if tf.Config == "" {
		bad(1, "config: the path of bulwark.yaml is required")
	}
	if len(tf.Cases) == 0 {
		bad(1, "cases: at least one case is required")
	}
	if _, err := tf.Context.resolve(TestContext{}); err != nil {
		bad(1, "context: %v", err)
	}
	for i := range tf.Cases {
		c := &tf.Cases[i]
		for _, msg := range c.check(tf.Context) {
			bad(c.line, "cases[%d] (%s): %s", i, c.Name, msg)
		}
	}
	return tf, errors.Join(errs...)
}

// caseLines records each case's line from the node tree.
func caseLines(root *yaml.Node, cases []TestCase) {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "cases" {
			for j, n := range m.Content[i+1].Content {
				if j < len(cases) {
					cases[j].line = n.Line
				}
			}
		}
	}
}

// check returns every problem of the case.
func (c *TestCase) check(defaults TestContext) []string {
	var probs []string
	if c.Name == "" {
		probs = append(probs, "name is required")
	}
	if c.Method == "" || c.Path == "" || c.Path[0] != '/' {
		probs = append(probs, "method and an absolute path are required")
	}
	switch c.Expect {
	case "allow", "deny", "would_deny":
	default:
		probs = append(probs, fmt.Sprintf("expect must be allow, deny or would_deny, got %q", c.Expect))
	}
	p := c.Principal
	if p.Workload != "" && (p.User != "" || len(p.Roles) > 0 || len(p.Scopes) > 0 || p.Client != "") {
		probs = append(probs, "principal is either a workload or a user, not both")
	}
	if p.Workload != "" && c.Service == "" {
		probs = append(probs, "a workload case needs service: the callee")
	}
	if p.Workload == "" && (c.Service != "" || c.EndUser != nil) {
		probs = append(probs, "service and end_user are only for workload cases")
	}
	if _, err := c.Context.resolve(defaults); err != nil {
		probs = append(probs, "context: "+err.Error())
	}
	return probs
}

// resolve fills unset fields from defaults and the built-in defaults and parses them.
func (tc TestContext) resolve(defaults TestContext) (Context, error) {
	ip, at, mtls := tc.SourceIP, tc.Time, tc.MTLS
	if ip == "" {
		ip = defaults.SourceIP
	}
	if ip == "" {
		ip = "127.0.0.1"
	}
	if at == "" {
		at = defaults.Time
	}
	if at == "" {
		at = "2026-01-05T12:00:00Z"
	}
	if mtls == nil {
		mtls = defaults.MTLS
	}
	var c Context
	var err error
	if c.SourceIP, err = netip.ParseAddr(ip); err != nil {
		return c, fmt.Errorf("source_ip: %w", err)
	}
	if c.Time, err = time.Parse(time.RFC3339, at); err != nil {
		return c, fmt.Errorf("time: want RFC 3339, e.g. 2026-01-05T12:00:00Z: %w", err)
	}
	c.MTLS = mtls != nil && *mtls
	return c, nil
}

// rel resolves p against the test file's directory.
func (tf *TestFile) rel(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(tf.file), p)
}
