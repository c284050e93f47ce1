package config

import (
	"os"
	"testing"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts is a config that
// validates again and can be compiled into policy without panicking.
func FuzzParse(f *testing.F) {
	bank, err := os.ReadFile(bankConfig)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bank)
	f.Add([]byte(minimal))
	for _, tt := range badConfigs {
		f.Add([]byte(tt.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatalf("got a config alongside error %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate again: %v", err)
		}
		for i := range c.Gateway.Routes {
			c.RoutePattern(i)
			RouteName(i)
		}
	})
}
