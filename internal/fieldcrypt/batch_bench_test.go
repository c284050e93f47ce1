package fieldcrypt

import (
	"context"
	"testing"
)

// BenchmarkOpenRecord opens a record's three sealed fields through the keys API over real
// mTLS, one call per field (PerField: how accounts read a record before the batch API, kept
// as the baseline) and in one batch call (Batch), in the same run.
func BenchmarkOpenRecord(b *testing.B) {
	m := openManagerIn(b, b.TempDir())
	c, _ := keysAPIFor(b, m)("accounts")
	f := Fields{Keys: c}
	ctx := context.Background()
	cols := []string{"name", "email", "national_id"}
	sealed := make([]string, len(cols))
	for i, col := range cols {
		var err error
		if sealed[i], err = f.Seal(ctx, "accounts", col, "A-1001", "value of "+col); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("PerField", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i, col := range cols {
				if _, err := f.Open(ctx, "accounts", col, "A-1001", sealed[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("Batch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v := append([]string(nil), sealed...)
			if err := f.OpenAll(ctx, "accounts", "A-1001", Field{"name", &v[0]}, Field{"email", &v[1]}, Field{"national_id", &v[2]}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
