// Package revocation carries access-token revocations (RFC 7009) from the embedded identity
// provider to every gateway.
//
// The control plane keeps a [List]: the jti of every revoked access token, each with the
// time after which no gateway could accept the token anyway (its latest possible exp plus
// the largest clock skew), a sequence number, and an epoch that changes only when the list
// is created anew. The list is an append-only file, <state_dir>/idp/revoked.jsonl (0600 in
// a 0700 directory), compacted on open, so a restart keeps every revocation.
//
// [Handler] serves the list to gateways over the control plane's mTLS listener as a long
// poll: GET /control/v1/revocations?epoch=E&since=N&wait=S answers at once with the entries
// after N, or waits up to S seconds (at most 20) for the next revocation. A caller whose
// epoch differs gets the whole list with "reset": true. Large answers are paged ("more").
//
// A [Follower] runs in each gateway and keeps its copy current, so a revoked token is
// refused there within the round trip of one response — milliseconds on a LAN. While the
// feed is down, the gateway keeps serving with the last list it received (revocations
// made meanwhile are not known until it reconnects and catches up from its sequence
// number); each failure is logged on the first occurrence and when the feed recovers, and
// counted (Follower.Failures). Until the first list arrives, Revoked answers an error for
// tokens of the embedded issuer, so a gateway that never heard from the control plane
// refuses them rather than accept a possibly revoked one.
package revocation
