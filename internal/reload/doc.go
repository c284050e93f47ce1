// Package reload applies changes to bulwark.yaml, to the policy directory and to the
// OpenAPI documents that gateway routes name, without a restart. A Reloader polls them
// all (content hashes, every 300 ms by default, which also sees editors that save by
// renaming) and reloads at once on SIGHUP.
//
// A reload builds the whole new State — the config parsed and validated with its OpenAPI
// documents, the Cedar engine compiled from it and the policy directory — then asks every Target (the gateway, each
// sidecar) to prepare what it derives from it. Only when every step succeeded are the
// Targets committed, each by one atomic pointer swap; requests in flight finish on the
// state they started with. Anything invalid, or a change to a key that needs a restart
// (config.Config.RestartRequired), keeps the running state: the reason, with file:line,
// goes to an ERROR log line and to an audit event of kind config_change or policy_change
// with outcome deny. A successful reload is audited with outcome allow. The kind is
// policy_change only when the poll saw nothing but the policy directory change; an edited
// OpenAPI document is part of its route's config, so its reload is a config_change.
package reload
