package builder_test

import (
	"net/netip"
	"testing"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/feeds"
)

// What the builder does with a block of special-purpose space.
const (
	ianaKeep  = "keep"  // special, but routed or reachable in practice: feeds may carry real data for it
	ianaDrop  = "drop"  // reserved (docs/design.md §4): no public host; entries there are left out
	ianaAlias = "alias" // IPv6 space an MMDB with IPv4 aliasing maps onto IPv4: IPv6 entries there are left out
)

// ianaRow is one row of an IANA registry, typed in by hand, with what
// docs/design.md §4 wants done with it.
type ianaRow struct {
	prefix string
	name   string
	want   string
}

// ianaIPv4 is the IANA IPv4 Special-Purpose Address Registry
// (https://www.iana.org/assignments/iana-ipv4-special-registry), plus the
// multicast block of the IPv4 Multicast Address Space Registry.
var ianaIPv4 = []ianaRow{
	{"0.0.0.0/8", "This network (RFC 791)", ianaDrop},
	{"0.0.0.0/32", "This host on this network (RFC 1122)", ianaDrop},
	{"10.0.0.0/8", "Private-Use (RFC 1918)", ianaDrop},
	{"100.64.0.0/10", "Shared Address Space, CGNAT (RFC 6598)", ianaDrop},
	{"127.0.0.0/8", "Loopback (RFC 1122)", ianaDrop},
	{"169.254.0.0/16", "Link Local (RFC 3927)", ianaDrop},
	{"172.16.0.0/12", "Private-Use (RFC 1918)", ianaDrop},
	{"192.0.0.0/24", "IETF Protocol Assignments (RFC 6890)", ianaKeep},
	{"192.0.0.0/29", "IPv4 Service Continuity Prefix (RFC 7335)", ianaKeep},
	{"192.0.0.8/32", "IPv4 dummy address (RFC 7600)", ianaKeep},
	{"192.0.0.9/32", "Port Control Protocol Anycast (RFC 7723)", ianaKeep},
	{"192.0.0.10/32", "Traversal Using Relays around NAT Anycast (RFC 8155)", ianaKeep},
	{"192.0.0.170/32", "NAT64/DNS64 Discovery (RFC 7050)", ianaKeep},
	{"192.0.0.171/32", "NAT64/DNS64 Discovery (RFC 7050)", ianaKeep},
	{"192.0.2.0/24", "Documentation, TEST-NET-1 (RFC 5737)", ianaDrop},
	{"192.31.196.0/24", "AS112-v4 (RFC 7535)", ianaKeep},
	{"192.52.193.0/24", "AMT (RFC 7450)", ianaKeep},
	{"192.88.99.0/24", "Deprecated 6to4 Relay Anycast (RFC 7526)", ianaKeep},
	{"192.168.0.0/16", "Private-Use (RFC 1918)", ianaDrop},
	{"192.175.48.0/24", "Direct Delegation AS112 Service (RFC 7534)", ianaKeep},
	{"198.18.0.0/15", "Benchmarking (RFC 2544)", ianaKeep},
	{"198.51.100.0/24", "Documentation, TEST-NET-2 (RFC 5737)", ianaDrop},
	{"203.0.113.0/24", "Documentation, TEST-NET-3 (RFC 5737)", ianaDrop},
	{"224.0.0.0/4", "Multicast (RFC 5771; multicast registry)", ianaDrop},
	{"240.0.0.0/4", "Reserved (RFC 1112)", ianaDrop},
	{"255.255.255.255/32", "Limited Broadcast (RFC 919)", ianaDrop},
}

// ianaIPv6 is the IANA IPv6 Special-Purpose Address Registry
// (https://www.iana.org/assignments/iana-ipv6-special-registry), plus the
// multicast block of the IPv6 address space registry (RFC 4291) and
// ::/96, which no registry row names but an MMDB with IPv4 aliasing gives
// to IPv4.
var ianaIPv6 = []ianaRow{
	{"::/96", "IPv4-compatible, deprecated (RFC 4291 §2.5.5.1): the MMDB's IPv4 subtree", ianaAlias},
	{"::/128", "Unspecified Address (RFC 4291)", ianaAlias},
	{"::1/128", "Loopback Address (RFC 4291)", ianaAlias},
	{"::ffff:0:0/96", "IPv4-mapped Address (RFC 4291)", ianaAlias},
	{"64:ff9b::/96", "IPv4-IPv6 Translation (RFC 6052)", ianaKeep},
	{"64:ff9b:1::/48", "IPv4-IPv6 Translation, local use (RFC 8215)", ianaKeep},
	{"100::/64", "Discard-Only Address Block (RFC 6666)", ianaKeep},
	{"100:0:0:1::/64", "Dummy IPv6 Prefix (RFC 9780)", ianaKeep},
	{"2001::/23", "IETF Protocol Assignments (RFC 2928)", ianaKeep},
	{"2001::/32", "TEREDO (RFC 4380)", ianaAlias},
	{"2001:1::1/128", "Port Control Protocol Anycast (RFC 7723)", ianaKeep},
	{"2001:1::2/128", "Traversal Using Relays around NAT Anycast (RFC 8155)", ianaKeep},
	{"2001:1::3/128", "DNS-SD Service Registration Protocol Anycast (RFC 9665)", ianaKeep},
	{"2001:2::/48", "Benchmarking (RFC 5180)", ianaKeep},
	{"2001:3::/32", "AMT (RFC 7450)", ianaKeep},
	{"2001:4:112::/48", "AS112-v6 (RFC 7535)", ianaKeep},
	{"2001:10::/28", "Deprecated, previously ORCHID (RFC 4843)", ianaKeep},
	{"2001:20::/28", "ORCHIDv2 (RFC 7343)", ianaKeep},
	{"2001:30::/28", "Drone Remote ID Protocol Entity Tags (RFC 9374)", ianaKeep},
	{"2001:db8::/32", "Documentation (RFC 3849)", ianaDrop},
	{"2002::/16", "6to4 (RFC 3056)", ianaAlias},
	{"2620:4f:8000::/48", "Direct Delegation AS112 Service (RFC 7534)", ianaKeep},
	{"3fff::/20", "Documentation (RFC 9637)", ianaDrop},
	{"5f00::/16", "Segment Routing SIDs (RFC 9602)", ianaKeep},
	{"fc00::/7", "Unique-Local (RFC 4193)", ianaDrop},
	{"fe80::/10", "Link-Local Unicast (RFC 4291)", ianaDrop},
	{"ff00::/8", "Multicast (RFC 4291)", ianaDrop},
}

// ianaWant is what the registries say of addr: the decision of the most
// specific row that contains it, ianaKeep when none does (public space).
func ianaWant(addr netip.Addr) (want string, row ianaRow) {
	want, bits := ianaKeep, -1
	for _, rows := range [][]ianaRow{ianaIPv4, ianaIPv6} {
		for _, r := range rows {
			p := netip.MustParsePrefix(r.prefix)
			if p.Contains(addr) && p.Bits() > bits {
				want, bits, row = r.want, p.Bits(), r
			}
		}
	}
	return want, row
}

// builderSays is what the builder does with addr, through its public API.
func builderSays(addr netip.Addr) string {
	switch {
	case builder.IsAliased(addr):
		return ianaAlias
	case builder.IsReserved(addr):
		return ianaDrop
	}
	return ianaKeep
}

// The reserved space agrees with the IANA registries at the first and
// last address of every row, just outside them, and in their middle.
func TestReservedMatchesIANA(t *testing.T) {
	t.Parallel()
	var probes []netip.Addr
	for _, rows := range [][]ianaRow{ianaIPv4, ianaIPv6} {
		for _, r := range rows {
			p := netip.MustParsePrefix(r.prefix)
			first, last := p.Addr(), lastAddr(p)
			probes = append(probes, first, last, first.Prev(), last.Next(), mid(p))
		}
	}
	// Public space, for contrast.
	for _, s := range []string{"1.1.1.1", "8.8.8.8", "45.1.2.3", "100.63.255.255", "100.128.0.0", "223.255.255.255", "2a00:1450::1", "2606:4700::1111"} {
		probes = append(probes, netip.MustParseAddr(s))
	}
	for _, a := range probes {
		if !a.IsValid() {
			continue // before 0.0.0.0 or after the last address
		}
		want, row := ianaWant(a)
		if got := builderSays(a); got != want {
			t.Errorf("%v: builder says %s, IANA row %s %q wants %s", a, got, row.prefix, row.name, want)
		}
	}
}

// A feed entry of each row's prefix is dropped, as reserved or aliased,
// exactly when the registries say so, and a kept one is not trimmed: the
// build path (Builder.Add) agrees with IsReserved.
func TestReservedEntriesMatchIANA(t *testing.T) {
	t.Parallel()
	for _, rows := range [][]ianaRow{ianaIPv4, ianaIPv6} {
		for _, r := range rows {
			b, err := builder.New(builder.Options{IPv6Prefix: 128})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.AddFeed(builder.Feed{Name: "abuse", Kind: "abuse", Weight: 0.6}); err != nil {
				t.Fatal(err)
			}
			p := netip.MustParsePrefix(r.prefix)
			if p.Addr().Is4In6() {
				continue // an IPv4-mapped entry is IPv4: Add unmaps it
			}
			if err := b.Add("abuse", feeds.Entry{Prefix: p, Line: 1}); err != nil {
				t.Fatalf("Add(%v): %v", p, err)
			}
			st, _ := b.FeedStats("abuse")
			got := ianaKeep
			switch {
			case st.Aliased == 1:
				got = ianaAlias
			case st.Reserved == 1:
				got = ianaDrop
			}
			want := r.want
			if want == ianaKeep && containsDropped(p) {
				continue // holds a more specific dropped row: trimmed, checked by that row
			}
			if got != want || (want == ianaKeep && st.Trimmed != 0) {
				t.Errorf("entry %s (%s): %s (stats %+v), want %s", r.prefix, r.name, got, st, want)
			}
		}
	}
}

// containsDropped reports whether a more specific row inside p is dropped
// or aliased.
func containsDropped(p netip.Prefix) bool {
	for _, rows := range [][]ianaRow{ianaIPv4, ianaIPv6} {
		for _, r := range rows {
			q := netip.MustParsePrefix(r.prefix)
			if q.Bits() > p.Bits() && p.Overlaps(q) && r.want != ianaKeep {
				return true
			}
		}
	}
	return false
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// mid returns an address in the middle of p.
func mid(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	if i := p.Bits(); i < len(b)*8 {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
