// Package config loads and validates bulwark.yaml. Decoding is strict: an unknown key, a
// wrong type, a duplicate key or a reference to an unknown service is an error that names
// the file, the line and the key path (services[1].allow[0].caller), and Load returns every
// problem at once. Defaults are applied in one place (applyDefaults) and typed values
// (trust domain, SPIFFE IDs) are derived there too.
package config
