package builder

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"go4.org/netipx"
)

// The merge works in one 128-bit address space laid out as an MMDB search
// tree with IPv4 aliasing lays it out: IPv4 address a.b.c.d is the point
// ::a.b.c.d (inside ::/96), IPv6 addresses are themselves. IPv6 entries are
// clipped out of ::/96 when they are added, so the two families never meet.

// u128 is an address in that space.
type u128 struct{ hi, lo uint64 }

var (
	u128Max   = u128{^uint64(0), ^uint64(0)}
	ipv6Start = u128{0, 1 << 32} // first point after ::/96, the IPv4 space
)

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) cmp(b u128) int {
	switch {
	case a == b:
		return 0
	case a.less(b):
		return -1
	default:
		return 1
	}
}

// next returns a+1; ok is false when a is the last point.
func (a u128) next() (u128, bool) {
	lo, c := bits.Add64(a.lo, 1, 0)
	return u128{a.hi + c, lo}, a != u128Max
}

// prev returns a-1 (a must not be zero).
func (a u128) prev() u128 {
	lo, b := bits.Sub64(a.lo, 1, 0)
	return u128{a.hi - b, lo}
}

// isIPv4 reports whether a lies in the IPv4 part of the space.
func (a u128) isIPv4() bool { return a.hi == 0 && a.lo>>32 == 0 }

// addr converts a point back to an address of its family.
func (a u128) addr() netip.Addr {
	if a.isIPv4() {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(a.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return netip.AddrFrom16(b)
}

// pointOf returns the point of an address. An IPv4-mapped IPv6 address
// stays IPv6 (inside ::ffff:0:0/96): callers unmap entries first, and the
// masks need that block as it is.
func pointOf(addr netip.Addr) u128 {
	if addr.Is4() {
		b := addr.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := addr.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// span is an inclusive interval of points.
type span struct{ lo, hi u128 }

// spanOf returns the span a masked prefix covers.
func spanOf(pfx netip.Prefix) span {
	lo := pointOf(pfx.Addr())
	host := 128 - pfx.Bits()
	if pfx.Addr().Is4() {
		host = 32 - pfx.Bits()
	}
	hi := lo
	switch {
	case host >= 128:
		hi = u128Max
	case host >= 64:
		hi.hi |= (uint64(1) << (host - 64)) - 1
		hi.lo = ^uint64(0)
	default:
		hi.lo |= (uint64(1) << host) - 1
	}
	return span{lo, hi}
}

// rangeOf converts a span inside one family to a netipx range.
func (s span) rangeOf() netipx.IPRange { return netipx.IPRangeFrom(s.lo.addr(), s.hi.addr()) }
