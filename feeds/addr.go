package feeds

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"go4.org/netipx"
)

var (
	errZone       = errors.New("zoned address not allowed: a zone names a link, not a network")
	errEmpty      = errors.New("empty address")
	errRangeOrder = errors.New("range start after end")
	errRangeMixed = errors.New("range mixes IPv4 and IPv6")
)

// ParseAddr parses an IPv4 or IPv6 address as feeds write them and returns
// it unmapped. Zero-padded IPv6 fields ("2001:0470:0001::") are accepted as
// netip accepts them; zero-padded IPv4 octets ("010.1.1.1") are rejected,
// because they are ambiguous (octal to inet_aton, decimal to others). An
// address with a zone ("fe80::1%eth0") is rejected, as the package
// documentation's zone rule says.
func ParseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errEmpty
	}
	if s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, errZone
	}
	return a.Unmap(), nil
}

// ParsePrefix parses a CIDR and returns it masked, with an IPv4-mapped IPv6
// prefix (::ffff:a.b.c.d/n, n ≥ 96) turned into its IPv4 prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return netip.Prefix{}, fmt.Errorf("no prefix length in %q", s)
	}
	a, err := ParseAddr(s[:i])
	if err != nil {
		return netip.Prefix{}, err
	}
	// Parse the length with netip against the original family so that
	// ::ffff:1.2.3.0/120 is checked as IPv6 and then unmapped.
	orig, err := netip.ParsePrefix(s)
	if err != nil {
		// The address itself parsed, so the length is at fault, or the
		// address was bracketed; retry on the unbracketed form.
		orig, err = netip.ParsePrefix(strings.Trim(s[:i], "[]") + s[i:])
		if err != nil {
			return netip.Prefix{}, err
		}
	}
	bits := orig.Bits()
	if orig.Addr().Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, fmt.Errorf("IPv4-mapped prefix %s shorter than /96", s)
		}
		bits -= 96
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// HostPrefix returns the single-address prefix of a.
func HostPrefix(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, a.BitLen())
}

// RangePrefixes appends to dst the minimal set of prefixes covering the
// inclusive range from..to.
func RangePrefixes(dst []netip.Prefix, from, to netip.Addr) ([]netip.Prefix, error) {
	from, to = from.Unmap(), to.Unmap()
	if from.Is4() != to.Is4() {
		return dst, errRangeMixed
	}
	if to.Less(from) {
		return dst, errRangeOrder
	}
	return netipx.IPRangeFrom(from, to).AppendPrefixes(dst), nil
}

// ParseNet parses one network token as feeds write it: an address, a
// CIDR, or an inclusive range "a-b" (spaces around the dash allowed), and
// appends the prefixes it covers to dst.
func ParseNet(dst []netip.Prefix, s string) ([]netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '-'); i >= 0 {
		from, err := ParseAddr(strings.TrimSpace(s[:i]))
		if err != nil {
			return dst, err
		}
		to, err := ParseAddr(strings.TrimSpace(s[i+1:]))
		if err != nil {
			return dst, err
		}
		return RangePrefixes(dst, from, to)
	}
	if strings.IndexByte(s, '/') >= 0 {
		p, err := ParsePrefix(s)
		if err != nil {
			return dst, err
		}
		return append(dst, p), nil
	}
	a, err := ParseAddr(s)
	if err != nil {
		return dst, err
	}
	return append(dst, HostPrefix(a)), nil
}
