package feeds

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// The pyasn format is a prefix → origin-AS table derived from a BGP RIB
// (RouteViews, RIPE RIS). Two layouts are read, line by line:
//
//	; IP-ASN32-DAT file             pyasn IPASN: comment lines start with ';'
//	1.0.0.0/24<TAB>15169            prefix/len, origin AS
//	1.0.4.0<TAB>22<TAB>56203        CAIDA pfx2as: address, length, origin AS
//
// CAIDA writes a prefix announced by several origins as "a_b" (multi-origin)
// and an AS-set as "{a,b}", which may combine ("{a,b}_c"). An Entry holds one
// ASN, so the first AS written is taken: for multi-origin prefixes CAIDA
// lists the origins in no meaningful order, so any one is as good as another,
// and the first keeps the result a pure function of the line. One record is
// one data line; it yields one prefix. Fields are separated by tabs or
// spaces; '#' lines are comments too.

func init() { register(FormatPyASN, parsePyASN) }

var errPyASNFields = errors.New("want prefix/len<TAB>asn or addr<TAB>len<TAB>asn")

func parsePyASN(r io.Reader, p *parser) error {
	var fields [4][]byte
	return eachLine(r, p, func(n int, line []byte) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == ';' || line[0] == '#' {
			return
		}
		f := torFields(fields[:0], line)
		var (
			pfx netip.Prefix
			err error
		)
		switch len(f) {
		case 2: // prefix/len asn
			pfx, err = ParsePrefix(string(f[0]))
		case 3: // addr len asn
			pfx, err = pyasnPrefix(f[0], f[1])
		default:
			p.bad(n, line, errPyASNFields)
			return
		}
		if err != nil {
			p.bad(n, line, err)
			return
		}
		asn, err := pyasnOrigin(f[len(f)-1])
		if err != nil {
			p.bad(n, line, err)
			return
		}
		p.stats.Records++
		p.emit(Entry{Prefix: pfx, ASN: asn, Line: n})
	})
}

// pyasnPrefix builds the prefix of a CAIDA pfx2as line from its address and
// length fields.
func pyasnPrefix(addrField, bitsField []byte) (netip.Prefix, error) {
	bits, err := strconv.ParseUint(string(bitsField), 10, 8)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad prefix length %q", bitsField)
	}
	// Let ParsePrefix check the length against the family and unmap.
	return ParsePrefix(string(addrField) + "/" + strconv.FormatUint(bits, 10))
}

// pyasnOrigin returns the first AS of an origin field: "15169",
// "64496_64497" (multi-origin) or "{64496,64497}" (AS-set).
func pyasnOrigin(b []byte) (uint32, error) {
	for _, c := range b {
		if (c < '0' || c > '9') && c != '_' && c != ',' && c != '{' && c != '}' {
			return 0, fmt.Errorf("%w %q", errASNSyntax, b)
		}
	}
	b = bytes.TrimPrefix(b, []byte{'{'})
	if i := bytes.IndexAny(b, "_,}"); i >= 0 {
		b = b[:i]
	}
	asn, ok := asnDigits(b)
	if !ok {
		return 0, fmt.Errorf("%w %q", errASNSyntax, b)
	}
	return asn, nil
}
