package authz

import (
	"slices"
	"sync"

	"github.com/cedar-policy/cedar-go"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// maxCachedEntities bounds each map of an entityCache. Paths come from clients, so a
// scan of random paths must not grow memory: a full map is emptied and refills with the
// paths in use, which costs the rebuilds an uncached engine does on every request.
const maxCachedEntities = 4096

// entityCache keeps the request entities that depend only on what repeats from request to
// request — the resource (path, service, route), the user (name, roles, scopes, client)
// and the calling workload — so that a decision does not rebuild them. Building one is
// most of a decision's allocations: Cedar hashes and copies every record and set it is
// given (types.NewRecord, types.NewSet). A cached entity is exactly the one the builder
// would return for the same inputs, and Cedar's values are immutable, so decisions are
// unchanged and the entities are safe to share between goroutines. The cache belongs to
// one Engine, which is immutable: a reload builds a new Engine with an empty cache, so a
// changed entities.json is never answered from an old entry.
type entityCache struct {
	mu        sync.RWMutex
	paths     map[pathKey]cedar.Entity
	users     map[userKey]cachedUser
	workloads map[spiffeid.ID]cedar.Entity
}

type pathKey struct{ path, service, route string }

type userKey struct{ name, client string }

// cachedUser is a user entity and the claims it was built from; a hit needs the same
// roles and scopes too, in the same order.
type cachedUser struct {
	roles, scopes []string
	entity        cedar.Entity
}

func newEntityCache() *entityCache {
	return &entityCache{
		paths:     map[pathKey]cedar.Entity{},
		users:     map[userKey]cachedUser{},
		workloads: map[spiffeid.ID]cedar.Entity{},
	}
}

// resource returns the Path entity of a request (pathEntity), from the cache when it can.
func (e *Engine) resource(path, service, route string) cedar.Entity {
	c := e.cache
	if c == nil {
		return e.pathEntity(path, service, route)
	}
	k := pathKey{path, service, route}
	c.mu.RLock()
	ent, ok := c.paths[k]
	c.mu.RUnlock()
	if ok {
		return ent
	}
	ent = e.pathEntity(path, service, route)
	c.mu.Lock()
	putBounded(c.paths, k, ent)
	c.mu.Unlock()
	return ent
}

// user returns the User entity of u (userEntity), from the cache when it can.
func (e *Engine) user(u User) cedar.Entity {
	c := e.cache
	if c == nil {
		return userEntity(u)
	}
	k := userKey{u.Name, u.Client}
	c.mu.RLock()
	cu, ok := c.users[k]
	c.mu.RUnlock()
	if ok && slices.Equal(cu.roles, u.Roles) && slices.Equal(cu.scopes, u.Scopes) {
		return cu.entity
	}
	ent := userEntity(u)
	c.mu.Lock()
	putBounded(c.users, k, cachedUser{roles: slices.Clone(u.Roles), scopes: slices.Clone(u.Scopes), entity: ent})
	c.mu.Unlock()
	return ent
}

// workload returns the Workload entity of id (workloadEntity), from the cache when it can.
func (e *Engine) workload(id spiffeid.ID) cedar.Entity {
	c := e.cache
	if c == nil {
		return workloadEntity(id)
	}
	c.mu.RLock()
	ent, ok := c.workloads[id]
	c.mu.RUnlock()
	if ok {
		return ent
	}
	ent = workloadEntity(id)
	c.mu.Lock()
	putBounded(c.workloads, id, ent)
	c.mu.Unlock()
	return ent
}

// putBounded stores v under k, emptying m first when it is full.
func putBounded[K comparable, V any](m map[K]V, k K, v V) {
	if _, ok := m[k]; !ok && len(m) >= maxCachedEntities {
		clear(m)
	}
	m[k] = v
}
