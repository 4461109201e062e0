package jwt

import (
	"testing"
	"time"
)

// TestReadClaimsBoundsExp: an exp no clock can reach, or that a conversion
// to int64 would wrap, is absent rather than a time in the past.
func TestReadClaimsBoundsExp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		exp  string
		want time.Time
	}{
		{`1700000000`, time.Unix(1700000000, 0)},
		{`1700000000.9`, time.Unix(1700000000, 0)},
		{`0`, time.Unix(0, 0)},
		{`253402300799`, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{`253402300800`, time.Time{}},
		{`1e19`, time.Time{}},
		{`9.3e18`, time.Time{}},
		{`1e300`, time.Time{}},
		{`1e400`, time.Time{}},
		{`-1`, time.Time{}},
		{`-1e300`, time.Time{}},
		{`null`, time.Time{}},
		{`"1700000000"`, time.Time{}},
		{`true`, time.Time{}},
		{`{}`, time.Time{}},
	} {
		c, ok := ReadClaims(token(`{}`, `{"sub":"alice","exp":`+tt.exp+`}`))
		if !ok || c.Account != "alice" || !c.Expiry.Equal(tt.want) {
			t.Errorf("exp %s: ReadClaims = %+v, %v; want expiry %v", tt.exp, c, ok, tt.want)
		}
	}
}
