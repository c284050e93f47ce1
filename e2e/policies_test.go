package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// officeHours is the bank's teller time-of-day condition. The e2e stack runs on the wall
// clock, so the copy the tests run with opens the office all day; the rule itself is
// covered, at fixed times, by examples/bank/policies/tests.yaml.
const (
	officeHours    = "context.hour >= 7 && context.hour < 20"
	officeHoursE2E = "context.hour >= 0 && context.hour < 24"
)

// copyBankPolicies copies the bank's policy directory (*.cedar, entities.json) to dir for
// a config written next to it (`policies: policies` is relative to the config file).
func copyBankPolicies(dir string) error {
	src := "../examples/bank/policies"
	files, err := filepath.Glob(filepath.Join(src, "*.cedar"))
	if err != nil {
		return err
	}
	files = append(files, filepath.Join(src, "entities.json"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	replaced := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		s := string(b)
		if strings.Contains(s, officeHours) {
			s, replaced = strings.Replace(s, officeHours, officeHoursE2E, 1), true
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(s), 0o600); err != nil {
			return err
		}
	}
	if !replaced {
		return errors.New("the bank policies no longer contain the office hours condition " + officeHours)
	}
	return nil
}
