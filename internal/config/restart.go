package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// hotKeys are the keys a running Bulwark applies on reload; they are key paths with list
// indices written [*], and every key below them is hot too. A change anywhere else
// (listen addresses, trust domain, state dir, TLS files, the identity provider, the audit
// path, the rate limiter's backend, the set of services…) needs a restart: those are bound
// once at start (sockets, CA, OIDC provider, audit file, Redis connection). The list is an
// allow-list on purpose: a key added later is refused on reload until someone makes it
// hot, rather than silently ignored.
var hotKeys = []string{
	"policies",
	"services[*].allow",
	"services[*].resilience",
	"services[*].secrets",
	"gateway.routes",
	"gateway.rate_limit.max_in_flight",
	"audit.unsafe_fail_open",
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

func isHot(path string) bool {
	generic := indexRE.ReplaceAllString(path, "[*]")
	for _, k := range hotKeys {
		if generic == k || strings.HasPrefix(generic, k+".") || strings.HasPrefix(generic, k+"[") {
			return true
		}
	}
	return false
}

// RestartRequired compares next, a candidate reload, with c, the running config, and
// returns one error per changed key that cannot be applied without a restart, located in
// next's file. Values are not quoted: the message names the key only. nil means every
// change is hot.
func (c *Config) RestartRequired(next *Config) error {
	var errs []error
	diffKeys(reflect.ValueOf(c).Elem(), reflect.ValueOf(next).Elem(), "", func(path string) {
		if !isHot(path) {
			errs = append(errs, next.errAt(path, "changed, but it cannot be applied to a running Bulwark: restart to apply it (the running config is kept)"))
		}
	})
	return errors.Join(errs...)
}

// diffKeys calls changed with the key path of every yaml field that differs between a and
// b; a list whose length differs is reported once, at the list's own key.
func diffKeys(a, b reflect.Value, path string, changed func(string)) {
	switch a.Kind() {
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			diffKeys(a.Field(i), b.Field(i), join(path, tag), changed)
		}
	case reflect.Slice:
		if a.Len() != b.Len() {
			changed(path) // e.g. a service added or removed
			return
		}
		for i := range a.Len() {
			diffKeys(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i), changed)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			changed(path)
		}
	}
}
