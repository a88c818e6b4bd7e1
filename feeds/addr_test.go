package feeds

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestZoneRule checks the zone rule of the package documentation: every
// way into the package rejects a zoned address with errZone, and a parser
// reports the line and keeps the others.
func TestZoneRule(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"fe80::1%eth0", "[fe80::1%eth0]", "2001:db8::1%1", "::ffff:192.0.2.1%eth0"} {
		if a, err := ParseAddr(s); !errors.Is(err, errZone) {
			t.Errorf("ParseAddr(%q) = %v, %v, want errZone", s, a, err)
		}
	}
	for _, s := range []string{"fe80::1%eth0/64", "2001:db8::%1/32"} {
		if p, err := ParsePrefix(s); !errors.Is(err, errZone) {
			t.Errorf("ParsePrefix(%q) = %v, %v, want errZone", s, p, err)
		}
	}
	for _, s := range []string{"fe80::1%eth0", "fe80::1%eth0/64", "fe80::1%eth0-fe80::2", "fe80::1-fe80::2%eth0"} {
		if got, err := ParseNet(nil, s); !errors.Is(err, errZone) || len(got) != 0 {
			t.Errorf("ParseNet(%q) = %v, %v, want no prefix and errZone", s, got, err)
		}
	}
	if a, err := ParseAddr("fe80::1"); err != nil || a != netip.MustParseAddr("fe80::1") {
		t.Errorf("ParseAddr(fe80::1) = %v, %v, want fe80::1: only the zone is refused", a, err)
	}

	in := "192.0.2.1\nfe80::1%eth0\n2001:db8::%1/32\n2001:db8::1\n"
	var got []string
	st, err := Parse(strings.NewReader(in), Options{Format: FormatIPList, Source: "zones"}, func(e Entry) {
		got = append(got, e.Prefix.String())
	})
	if st.Records != 2 || st.Invalid != 2 || strings.Join(got, " ") != "192.0.2.1/32 2001:db8::1/128" {
		t.Errorf("Parse = %+v, entries %v; want 2 records, 2 invalid, the two unzoned addresses", st, got)
	}
	var lines []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		le, ok := errors.AsType[*LineError](e)
		if !ok || !errors.Is(le, errZone) {
			t.Errorf("Parse error %v, want a *LineError for a zone", e)
			continue
		}
		lines = append(lines, le.Line)
	}
	if len(lines) != 2 || lines[0] != 2 || lines[1] != 3 {
		t.Errorf("zoned lines reported: %v, want [2 3]", lines)
	}
}
