package main

import (
	"net/netip"
	"testing"
)

func TestParseCIDROrAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want netip.Prefix
		ok   bool
	}{
		{"10.0.0.0/8", netip.MustParsePrefix("10.0.0.0/8"), true},
		{"10.1.2.3/8", netip.MustParsePrefix("10.0.0.0/8"), true},
		{"192.0.2.7", netip.MustParsePrefix("192.0.2.7/32"), true},
		{"2001:db8::1", netip.MustParsePrefix("2001:db8::1/128"), true},
		{"2001:db8::/32", netip.MustParsePrefix("2001:db8::/32"), true},
		// An IPv4-mapped network must match the unmapped peers it names.
		{"::ffff:10.0.0.0/104", netip.MustParsePrefix("10.0.0.0/8"), true},
		{"::ffff:192.0.2.7", netip.MustParsePrefix("192.0.2.7/32"), true},
		{"fe80::1%eth0", netip.Prefix{}, false},
		{"10.0.0.0/33", netip.Prefix{}, false},
		{"proxy.example", netip.Prefix{}, false},
		{"", netip.Prefix{}, false},
	}
	for _, tt := range tests {
		got, err := parseCIDROrAddr(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseCIDROrAddr(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestCacheName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"db.mmdb":           "db",
		"IPintel Prod.mmdb": "ipintel-prod",
		"serve-1a2b":        "serve-1a2b",
		"a.b.c":             "a-b",
	} {
		if got := cacheName(in); got != want {
			t.Errorf("cacheName(%q) = %q, want %q", in, got, want)
		}
	}
}
