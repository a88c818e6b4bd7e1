package feeds

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// The asn-names format maps AS numbers to their holders' names, one AS a
// line:
//
//	3333 RIPE-NCC-AS Reseaux IP Europeens Network Coordination Centre (RIPE NCC), NL   RIPE asn.txt
//	224	UNINETT UNINETT, The Norwegian University & Research Network, NO            potaroo autnums
//	AS13335 CLOUDFLARENET, US
//
// The AS number (with or without "AS") is followed by white space (a
// space in RIPE's file, a tab in potaroo's) and the name. The name ends
// with ", CC", the registry's country: the country is what follows the
// last comma when it is a two-letter code in capitals, and is dropped;
// names hold commas of their own ("UNINETT, The Norwegian …"), so only the
// last one counts. One record is one line, and yields an Entry with the ASN
// and the name as Org, and the zero Prefix.
//
// These tables are older than UTF-8 in places: a line that is not valid
// UTF-8 is read as Latin-1 (ISO 8859-1), byte by byte, its valid UTF-8
// sequences kept, so "Administraci\xf3n" becomes "Administración".
//
// Skipped, neither records nor bad lines, because they name no
// organisation: AS 0 (reserved, RFC 7607); potaroo's placeholders for
// numbers assigned to no one, written between dashes with the unknown
// country ZZ ("-Reserved AS-, ZZ", "-Private Use AS-, ZZ"; a real holder
// such as "- CONECTMAIS -, BR" is kept); and an empty name (", TR"). Blank
// lines and lines starting with '#' are ignored. A
// line with no number, or a number with no name, is a bad line.

func init() { register(FormatASNNames, parseASNNames) }

var errASNNoName = errors.New("AS number without a name")

func parseASNNames(r io.Reader, p *parser) error {
	var conv []byte
	return eachLine(r, p, func(n int, line []byte) {
		t := line
		if !utf8.Valid(t) {
			conv = latin1ToUTF8(conv[:0], t)
			t = conv
		}
		t = bytes.TrimSpace(t)
		if len(t) == 0 || t[0] == '#' {
			return
		}
		i := bytes.IndexAny(t, " \t")
		if i < 0 {
			p.bad(n, line, errASNNoName)
			return
		}
		num, name := t[:i], bytes.TrimSpace(t[i+1:])
		asn, err := parseASNToken(string(num))
		if err != nil {
			p.bad(n, line, err)
			return
		}
		if len(name) == 0 {
			p.bad(n, line, errASNNoName)
			return
		}
		org, cc := asnOrg(string(name))
		switch {
		case asn == 0, org == "", cc == "ZZ" && len(org) >= 2 && org[0] == '-' && org[len(org)-1] == '-':
			p.stats.Skipped++
		default:
			p.stats.Records++
			p.emit(Entry{ASN: asn, Org: org, Line: n})
		}
	})
}

// asnOrg splits name into the organisation and its trailing ", CC"
// country code, when it has one.
func asnOrg(name string) (org, cc string) {
	i := strings.LastIndexByte(name, ',')
	if i < 0 {
		return name, ""
	}
	cc = strings.TrimSpace(name[i+1:])
	if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
		return name, ""
	}
	return strings.TrimSpace(name[:i]), cc
}

// latin1ToUTF8 appends b to dst as UTF-8, reading each byte that is not
// part of a valid UTF-8 sequence as a Latin-1 character.
func latin1ToUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			dst = utf8.AppendRune(dst, rune(b[0]))
			b = b[1:]
			continue
		}
		dst = append(dst, b[:size]...)
		b = b[size:]
	}
	return dst
}
