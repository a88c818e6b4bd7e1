package builder

import (
	"net/netip"
	"sort"

	"go4.org/netipx"
)

// Reserved space: the blocks docs/design.md §4 names (private, loopback,
// link-local, multicast, documentation) and their kin from IANA's
// special-purpose registries (RFC 6890): "this network", shared CGNAT
// space, the reserved 240/4, unique local IPv6. No feed entry can
// meaningfully name a public host there, yet real feeds list them
// (FireHOL level1 carries fullbogons: 0.0.0.0/8, 10.0.0.0/8,
// 100.64.0.0/10, 127.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 and
// 224.0.0.0/3), so unless the config sets keep_reserved the builder leaves
// them out of the database. Blocks that are special but reachable or
// routed in practice (IETF protocol assignments 192.0.0.0/24 and
// 2001::/23, benchmarking 198.18.0.0/15, NAT64 64:ff9b::/96, discard
// 100::/64) are not reserved here: feeds and ASN tables carry real data
// for some of them (AS112 at 2001:4:112::/48).
//
// An entry that only partly overlaps reserved space (224.0.0.0/3 spans
// multicast 224/4 and reserved 240/4; a feed might list 0.0.0.0/7, which
// covers 0/8 and the public 1.0.0.0/8) keeps its public part: the
// reserved part is subtracted, never the whole entry. Reserved space acts
// as a mask on the output, so an ASN prefix that straddles it keeps its
// original length for the most-specific-match rule.
var reservedPrefixes = []string{
	// IPv4.
	"0.0.0.0/8",       // "this network", RFC 791 §3.2, RFC 1122 §3.2.1.3
	"10.0.0.0/8",      // private use, RFC 1918
	"100.64.0.0/10",   // shared address space (CGNAT), RFC 6598
	"127.0.0.0/8",     // loopback, RFC 1122 §3.2.1.3
	"169.254.0.0/16",  // link local, RFC 3927
	"172.16.0.0/12",   // private use, RFC 1918
	"192.0.2.0/24",    // documentation TEST-NET-1, RFC 5737
	"192.168.0.0/16",  // private use, RFC 1918
	"198.51.100.0/24", // documentation TEST-NET-2, RFC 5737
	"203.0.113.0/24",  // documentation TEST-NET-3, RFC 5737
	"224.0.0.0/4",     // multicast, RFC 5771
	"240.0.0.0/4",     // reserved, RFC 1112 §4; includes limited broadcast 255.255.255.255, RFC 919

	// IPv6. The unspecified ::/128 (RFC 4291 §2.5.2) and loopback ::1/128
	// (RFC 4291 §2.5.3) lie in ::/96, which an MMDB with IPv4 aliasing
	// reserves for IPv4; see aliasedPrefixes.
	"2001:db8::/32", // documentation, RFC 3849
	"3fff::/20",     // documentation, RFC 9637
	"fc00::/7",      // unique local, RFC 4193
	"fe80::/10",     // link-local unicast, RFC 4291 §2.5.6
	"ff00::/8",      // multicast, RFC 4291 §2.7
}

// aliasedPrefixes are IPv6 blocks an MMDB with IPv4 aliasing cannot hold
// IPv6 data in: the IPv4 subtree itself and the blocks mmdbwriter aliases
// to it. IPv6 entries there are dropped (and counted) whatever
// keep_reserved says.
var aliasedPrefixes = []string{
	"::/96",         // IPv4 subtree; IPv4-compatible addresses are deprecated, RFC 4291 §2.5.5.1 (clipped on Add)
	"::ffff:0:0/96", // IPv4-mapped, RFC 4291 §2.5.5.2
	"2001::/32",     // Teredo, RFC 4380
	"2002::/16",     // 6to4, RFC 3056
}

// reservedSet returns the reserved space as an IPSet built with netipx.
func reservedSet() *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, s := range reservedPrefixes {
		b.AddPrefix(netip.MustParsePrefix(s))
	}
	set, err := b.IPSet()
	if err != nil {
		panic("builder: reserved set: " + err.Error())
	}
	return set
}

// aliasedSet returns the IPv6 space that cannot carry IPv6 data.
func aliasedSet() *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, s := range aliasedPrefixes {
		b.AddPrefix(netip.MustParsePrefix(s))
	}
	set, err := b.IPSet()
	if err != nil {
		panic("builder: aliased set: " + err.Error())
	}
	return set
}

// IsReserved reports whether addr lies in the reserved space the builder
// drops unless keep_reserved is set.
func IsReserved(addr netip.Addr) bool { return reservedIPSet.Contains(addr.Unmap()) }

// IsAliased reports whether addr is an IPv6 address in a block that an MMDB
// with IPv4 aliasing maps onto the IPv4 tree (::/96, ::ffff:0:0/96,
// 2001::/32, 2002::/16), so no IPv6 data can be stored for it.
func IsAliased(addr netip.Addr) bool { return addr.Is6() && aliasedIPSet.Contains(addr) }

var (
	reservedIPSet = reservedSet()
	aliasedIPSet  = aliasedSet()
	// The same sets as merged spans of the merge space, for Add.
	reservedMask = normalizeSpans(maskSpans(reservedIPSet))
	aliasedMask  = normalizeSpans(maskSpans(aliasedIPSet))
)

// maskCover reports whether s lies wholly inside the merged, sorted spans
// of mask, and whether it overlaps them at all.
func maskCover(mask []span, s span) (inside, overlaps bool) {
	i := sort.Search(len(mask), func(i int) bool { return !mask[i].hi.less(s.lo) })
	if i == len(mask) || s.hi.less(mask[i].lo) {
		return false, false
	}
	return !s.lo.less(mask[i].lo) && !mask[i].hi.less(s.hi), true
}

// maskSpans returns the sorted spans of the given sets in the merge space.
// IPv6 ranges inside ::/96 are skipped: that part of the merge space is
// IPv4, and IPv6 entries are clipped out of it when they are added.
func maskSpans(sets ...*netipx.IPSet) []span {
	var out []span
	for _, set := range sets {
		for _, r := range set.Ranges() {
			s := span{pointOf(r.From()), pointOf(r.To())}
			if r.From().Is6() {
				if s.hi.less(ipv6Start) {
					continue
				}
				if s.lo.less(ipv6Start) {
					s.lo = ipv6Start
				}
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lo.less(out[j].lo) })
	return out
}
