package feeds

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"go4.org/netipx"
)

// The ip2asn format is the iptoasn.com table (ip2asn-v4.tsv, ip2asn-v6.tsv,
// ip2asn-combined.tsv, usually gzipped), one inclusive range per line:
//
//	range_start<TAB>range_end<TAB>AS_number<TAB>country_code<TAB>AS_description
//	1.1.1.0	1.1.1.255	13335	US	CLOUDFLARENET - Cloudflare, Inc.
//	::	::1	0	None	Not routed
//
// One record is one routed row. A range is split into the fewest prefixes
// that cover it (most are not CIDR-aligned), each emitted with the row's ASN
// and description as Org. Rows of AS 0 ("Not routed") fill the gaps of the
// table and are counted in Stats.Skipped. The country code and description
// may be missing; the description may hold spaces and commas, so only tabs
// separate fields. Rows may overlap (the v6 table nests some ranges); they
// are emitted as they come and the builder's most-specific rule sorts them out.

func init() { register(FormatIP2ASN, parseIP2ASN) }

var (
	errIP2ASNFields = errors.New("want start, end and ASN separated by tabs")
	errASNSyntax    = errors.New("bad AS number")
)

func parseIP2ASN(r io.Reader, p *parser) error {
	var (
		pfxs    []netip.Prefix
		lastOrg string // rows of one AS come together: share their Org
	)
	return eachLine(r, p, func(n int, line []byte) {
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			return
		}
		start, rest, ok1 := bytes.Cut(line, []byte{'\t'})
		end, rest, ok2 := bytes.Cut(rest, []byte{'\t'})
		asnField, rest, _ := bytes.Cut(rest, []byte{'\t'})
		_, desc, _ := bytes.Cut(rest, []byte{'\t'}) // skip the country code
		if !ok1 || !ok2 || len(asnField) == 0 {
			p.bad(n, line, errIP2ASNFields)
			return
		}
		asn, ok := asnDigits(asnField)
		if !ok {
			p.bad(n, line, errASNSyntax)
			return
		}
		if asn == 0 {
			p.stats.Skipped++
			return
		}
		var err error
		pfxs, err = ip2asnRange(pfxs[:0], start, end)
		if err != nil {
			p.bad(n, line, err)
			return
		}
		desc = bytes.TrimSpace(desc)
		if string(desc) != lastOrg {
			lastOrg = string(desc)
		}
		p.stats.Records++
		for _, pfx := range pfxs {
			p.emit(Entry{Prefix: pfx, ASN: asn, Org: lastOrg, Line: n})
		}
	})
}

// ip2asnRange appends the prefixes of the inclusive range start..end. Both
// ends must be of one family; a range inside ::ffff:0:0/96 is read as the
// IPv4 range it maps, and the part of a wider IPv6 range that falls in the
// mapped block comes out as IPv4 prefixes.
func ip2asnRange(dst []netip.Prefix, start, end []byte) ([]netip.Prefix, error) {
	from, err := ip2asnAddr(start)
	if err != nil {
		return dst, err
	}
	to, err := ip2asnAddr(end)
	if err != nil {
		return dst, err
	}
	if from.Is4() || to.Is4() || (from.Is4In6() && to.Is4In6()) {
		return RangePrefixes(dst, from, to)
	}
	if to.Less(from) {
		return dst, errRangeOrder
	}
	n := len(dst)
	dst = netipx.IPRangeFrom(from, to).AppendPrefixes(dst)
	for i := n; i < len(dst); i++ {
		dst[i] = ip2asnUnmap(dst[i])
	}
	return dst, nil
}

// ip2asnAddr parses an address without unmapping it and rejects zones.
func ip2asnAddr(b []byte) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return a, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, errZone
	}
	return a, nil
}

// ip2asnUnmap turns a prefix inside ::ffff:0:0/96 into its IPv4 prefix.
func ip2asnUnmap(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// asnDigits parses a decimal AS number (RFC 6793: 32 bits).
func asnDigits(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > 1<<32-1 {
		return 0, false
	}
	return uint32(v), true
}

// parseASNToken parses an AS number written "AS64496", "as64496" or "64496".
func parseASNToken(s string) (uint32, error) {
	d := s
	if len(d) > 2 && (d[0] == 'A' || d[0] == 'a') && (d[1] == 'S' || d[1] == 's') {
		d = d[2:]
	}
	asn, ok := asnDigits([]byte(d))
	if !ok {
		return 0, fmt.Errorf("%w %q", errASNSyntax, s)
	}
	return asn, nil
}
