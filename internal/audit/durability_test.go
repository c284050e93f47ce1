package audit

import "testing"

func TestParseDurability(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Durability
		ok   bool
	}{
		{"write", DurabilityWrite, true},
		{"fsync", DurabilityFsync, true},
		{"", 0, false},
		{"FSYNC", 0, false},
		{"sync", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDurability(tc.in)
			if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
				t.Fatalf("ParseDurability(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
			if tc.ok && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
	var zero Durability
	if zero != DurabilityFsync {
		t.Error("the zero Durability must be the safe one, fsync")
	}
}
