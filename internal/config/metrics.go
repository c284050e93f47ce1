package config

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// Metrics configures the Prometheus metrics listeners. Each role (the gateway, each
// sidecar, the control plane) serves its own metrics on its own plaintext HTTP listener,
// with nothing but /metrics and /healthz on it; `bulwark up` lists their URLs in
// endpoints.json under "metrics". Without listen and roles, no role serves metrics: there
// is no plaintext listener unless the operator asks for one.
type Metrics struct {
	// Listen is the host:port of every role's metrics listener, e.g. "127.0.0.1:0" (a free
	// port per role, what `bulwark up` wants) or "127.0.0.1:9464" (one role per host or
	// container). It must be a loopback address unless unsafe_non_loopback is set.
	// Default: none (metrics off, except for the roles listed in roles).
	Listen string `yaml:"listen"`
	// Roles overrides listen for some roles (see MetricsRole). Default: none.
	Roles []MetricsRole `yaml:"roles"`
	// UnsafeNonLoopback allows metrics listeners on non-loopback addresses, which serves
	// the metrics (routes, upstreams, SPIFFE IDs, request rates) in plaintext to the
	// network. Default false.
	UnsafeNonLoopback bool `yaml:"unsafe_non_loopback"`
}

// MetricsRole gives one role its own metrics listener.
type MetricsRole struct {
	// Role is "gateway", "control" or "sidecar/<service>".
	Role string `yaml:"role"`
	// Listen is host:port, like metrics.listen.
	Listen string `yaml:"listen"`
}

// MetricsRoles are the roles of c that can serve metrics, in a stable order.
func (c *Config) MetricsRoles() []string {
	roles := []string{GatewayName, ControlName}
	for _, s := range c.Services {
		roles = append(roles, "sidecar/"+s.Name)
	}
	return roles
}

// MetricsListen is where role serves its metrics; "" means it serves none.
func (c *Config) MetricsListen(role string) string {
	for _, r := range c.Metrics.Roles {
		if r.Role == role {
			return r.Listen
		}
	}
	return c.Metrics.Listen
}

func (c *Config) validateMetrics() []error {
	m := c.Metrics
	var errs []error
	check := func(path, addr string) {
		if err := checkHostPort(addr); err != nil {
			errs = append(errs, c.errAt(path, "%v", err))
			return
		}
		host, _, _ := net.SplitHostPort(addr)
		if !m.UnsafeNonLoopback && !isLoopbackHost(host) {
			shown := host
			if shown == "" {
				shown = "all interfaces"
			}
			errs = append(errs, c.errAt(path, "%s is not a loopback address: metrics would be served in plaintext to the network; set metrics.unsafe_non_loopback to accept that", shown))
		}
	}
	if m.Listen != "" {
		check("metrics.listen", m.Listen)
	}
	roles := c.MetricsRoles()
	seen := map[string]bool{}
	for i, r := range m.Roles {
		path := fmt.Sprintf("metrics.roles[%d]", i)
		switch {
		case !slices.Contains(roles, r.Role):
			errs = append(errs, c.errAt(path+".role", "unknown role %q: want one of %s", r.Role, strings.Join(roles, ", ")))
		case seen[r.Role]:
			errs = append(errs, c.errAt(path+".role", "role %q is listed twice", r.Role))
		default:
			check(path+".listen", r.Listen)
		}
		seen[r.Role] = true
	}
	return errs
}
