package httpguard

import (
	"net/netip"
	"testing"

	"github.com/ipintel/ipintel/lookup"
)

func TestGuardTrusts(t *testing.T) {
	t.Parallel()
	h := lookup.NewHandle(nil)
	tests := []struct {
		name    string
		trusted []netip.Prefix
		addr    string
		want    bool
	}{
		{"default loopback v4", nil, "127.0.0.1", true},
		{"default loopback v6", nil, "::1", true},
		{"default public", nil, "192.0.2.1", false},
		{"configured network", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "10.1.2.3", true},
		{"outside configured", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1", false},
		{"trust nothing", []netip.Prefix{}, "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(h, Options{TrustedProxies: tt.trusted})
			if got := g.Trusts(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Trusts(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}
