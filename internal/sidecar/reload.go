package sidecar

import (
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
)

// Prepare returns commit, which makes the sidecar decide with engine, apply cfg's
// audit.unsafe_fail_open and call other services with cfg's services[].resilience.
// Outbound peers whose resilience did not change are kept as they are (pooled connections,
// retry budget, breaker state); the others are built anew and the old ones' idle
// connections closed on commit. Requests in flight finish with the state and peer they
// started with. The rest of the sidecar (listeners, the app's upstream, peer addresses)
// needs a restart to change (config.Config.RestartRequired).
func (s *Sidecar) Prepare(cfg *config.Config, engine *authz.Engine) (commit func(), err error) {
	next := &inboundState{engine: engine, failOpen: cfg.Audit.UnsafeFailOpen}
	if s.out == nil {
		return func() { s.in.state.Store(next) }, nil
	}
	o := s.opts
	o.Config = cfg
	prev := s.out.peers.Load()
	ps, err := newPeers(o, prev)
	if err != nil {
		return nil, err
	}
	return func() {
		s.in.state.Store(next)
		s.out.peers.Store(ps)
		prev.closeIdle(ps)
	}, nil
}
