// Package policy holds the path patterns of bulwark.yaml (Pattern: exact segments, "*" for
// one segment, a final "**" for any number) and route naming. Decisions are made by its
// subpackage authz, the Cedar engine shared by the gateway and the sidecars.
package policy
