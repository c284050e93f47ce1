package authz

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func bankTestEngine(t *testing.T) (*Engine, *TestFile) {
	t.Helper()
	tf, err := LoadTestFile("../../../examples/bank/policies/tests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := tf.Engine()
	if err != nil {
		t.Fatal(err)
	}
	return e, tf
}

// TestCachedEntitiesDecideAsUncached decides every case of the bank's policy tests three
// times — with an empty cache, from the cache, and with no cache at all (every entity built
// per request) — and wants the same verdict, policy ids and errors each time.
func TestCachedEntitiesDecideAsUncached(t *testing.T) {
	e, tf := bankTestEngine(t)
	uncached := *e
	uncached.cache = nil
	for _, c := range tf.Cases {
		want := uncached.decideCase(c, tf.Context)
		for _, pass := range []string{"cold", "warm"} {
			if got := e.decideCase(c, tf.Context); !reflect.DeepEqual(got, want) {
				t.Errorf("%s (%s cache): got %+v, want %+v", c.Name, pass, got, want)
			}
		}
	}
	if len(e.cache.paths) == 0 || len(e.cache.users) == 0 || len(e.cache.workloads) == 0 {
		t.Errorf("cache holds %d paths, %d users, %d workloads; want some of each", len(e.cache.paths), len(e.cache.users), len(e.cache.workloads))
	}
}

// TestCachedUserNeedsSameClaims: the same user name with other roles is a new entity, so
// a cached "customer" alice never answers for a "teller" alice, and back.
func TestCachedUserNeedsSameClaims(t *testing.T) {
	e, _ := bankTestEngine(t)
	for i, tc := range []struct {
		roles []string
		allow bool
	}{
		{[]string{"customer"}, true},
		{[]string{"teller"}, false},
		{[]string{"customer"}, true},
		{nil, false},
		{[]string{"customer", "teller"}, true},
	} {
		v := e.DecideUser(user("alice", tc.roles, nil, "POST", "/api/payments"))
		if v.Allow != tc.allow {
			t.Errorf("%d: alice %v POST /api/payments: allow = %v, want %v (%s)", i, tc.roles, v.Allow, tc.allow, v.Reason)
		}
	}
}

// TestEntityCacheBounded: distinct paths a client makes up do not grow the cache past its
// bound, and decisions stay right when it refills.
func TestEntityCacheBounded(t *testing.T) {
	e, _ := bankTestEngine(t)
	for i := range maxCachedEntities + 100 {
		e.DecideUser(user("alice", []string{"customer"}, nil, "GET", fmt.Sprintf("/api/accounts/X-%d", i)))
	}
	if n := len(e.cache.paths); n > maxCachedEntities {
		t.Errorf("%d cached paths, want at most %d", n, maxCachedEntities)
	}
	if v := e.DecideUser(user("tina", []string{"teller"}, nil, "GET", "/api/accounts/A-1002")); !v.Allow {
		t.Errorf("tina reads A-1002 after the cache refilled: %s", v.Reason)
	}
}

// TestEntityCacheConcurrent decides from many goroutines at once (run with -race): the
// shared entities are read only.
func TestEntityCacheConcurrent(t *testing.T) {
	e, tf := bankTestEngine(t)
	uncached := *e
	uncached.cache = nil
	want := make([]Verdict, len(tf.Cases))
	for i, c := range tf.Cases {
		want[i] = uncached.decideCase(c, tf.Context)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for r := range 20 {
				i := (g + r) % len(tf.Cases)
				if got := e.decideCase(tf.Cases[i], tf.Context); !reflect.DeepEqual(got, want[i]) {
					t.Errorf("%s: got %+v, want %+v", tf.Cases[i].Name, got, want[i])
				}
			}
		})
	}
	wg.Wait()
}
