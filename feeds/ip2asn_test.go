package feeds

import (
	"bufio"
	"bytes"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParseIP2ASN(t *testing.T) {
	t.Parallel()
	tiRun(t, FormatIP2ASN, []tiCase{
		{
			name: "v4 rows, aligned and not",
			in: "1.1.1.0\t1.1.1.255\t13335\tUS\tCLOUDFLARENET - Cloudflare, Inc.\n" +
				"8.8.4.0\t8.8.4.2\t15169\tUS\tGOOGLE - Google LLC\n",
			want: []string{
				`1 1.1.1.0/24 AS13335 "CLOUDFLARENET - Cloudflare, Inc."`,
				`2 8.8.4.0/31 AS15169 "GOOGLE - Google LLC"`,
				`2 8.8.4.2/32 AS15169 "GOOGLE - Google LLC"`,
			},
			records: 2,
		},
		{
			name: "v6 rows and Not routed",
			in: "::\t::1\t0\tNone\tNot routed\n" +
				"2001:200::\t2001:200:5ff:ffff:ffff:ffff:ffff:ffff\t2500\tJP\tWIDE-BB WIDE Project\n" +
				"2001:4:112::\t2001:4:112:ffff:ffff:ffff:ffff:ffff\t112\tUS\t-Reserved AS-\n",
			want: []string{
				`2 2001:200::/38 AS2500 "WIDE-BB WIDE Project"`,
				`2 2001:200:400::/39 AS2500 "WIDE-BB WIDE Project"`,
				`3 2001:4:112::/48 AS112 "-Reserved AS-"`,
			},
			records: 2,
			skipped: 1,
		},
		{
			name: "mapped ranges come out as IPv4",
			in: "::ffff:1.0.0.0\t::ffff:1.0.0.255\t64496\tZZ\tmapped\n" +
				"::fffe:ffff:fffe\t::ffff:0.0.0.1\t64497\tZZ\tstraddles the mapped block\n",
			want: []string{
				`1 1.0.0.0/24 AS64496 "mapped"`,
				`2 ::fffe:ffff:fffe/127 AS64497 "straddles the mapped block"`,
				`2 0.0.0.0/31 AS64497 "straddles the mapped block"`,
			},
			records: 2,
		},
		{
			name:    "missing country and description, CRLF, comments",
			in:      "# generated\r\n \t\r\n1.0.0.0\t1.0.0.255\t13335\r\n1.0.1.0\t1.0.1.255\t13335\tUS\r\n1.0.2.0\t1.0.2.255\t13335\tUS\tCLOUDFLARENET \r\n",
			want:    []string{`3 1.0.0.0/24 AS13335`, `4 1.0.1.0/24 AS13335`, `5 1.0.2.0/24 AS13335 "CLOUDFLARENET"`},
			records: 3,
		},
		{
			name: "garbage",
			in: "1.0.0.0 1.0.0.255 13335 US spaces\n" + // not tabs
				"1.0.0.0\t1.0.0.255\n" + // no ASN
				"1.0.0.0\t1.0.0.255\tAS13335\tUS\tx\n" + // ASN with AS
				"1.0.0.0\t1.0.0.255\t4294967296\tUS\tx\n" + // ASN over 32 bits
				"1.0.0.9\t1.0.0.1\t1\tUS\tx\n" + // start after end
				"1.0.0.0\t::1\t1\tUS\tx\n" + // mixed families
				"1.0.0\t1.0.0.255\t1\tUS\tx\n" + // bad start
				"fe80::1%eth0\tfe80::2\t1\tUS\tx\n" + // zone
				"9.9.9.9\t9.9.9.9\t4294967295\tZZ\tlast\n",
			want:    []string{`9 9.9.9.9/32 AS4294967295 "last"`},
			records: 1,
			bad:     []int{1, 2, 3, 4, 5, 6, 7, 8},
		},
		{
			name:    "overlapping rows are kept",
			in:      "10.0.0.0\t10.0.255.255\t1\tZZ\ta\n10.0.1.0\t10.0.1.255\t2\tZZ\tb\n",
			want:    []string{`1 10.0.0.0/16 AS1 "a"`, `2 10.0.1.0/24 AS2 "b"`},
			records: 2,
		},
		{
			name:    "truncated last row",
			in:      "1.0.0.0\t1.0.0.255\t13335\tUS\tok\n1.0.1.0\t1.0.1.2",
			want:    []string{`1 1.0.0.0/24 AS13335 "ok"`},
			records: 1,
			bad:     []int{2},
		},
	})
}

// refBigRange splits an inclusive range into prefixes with big integers:
// at each step the largest block that starts at from (as many bits as
// from has trailing zeros) and fits in what is left of the range.
func refBigRange(from, to netip.Addr) []netip.Prefix {
	bits := from.BitLen()
	a := new(big.Int).SetBytes(from.AsSlice())
	b := new(big.Int).SetBytes(to.AsSlice())
	var out []netip.Prefix
	for a.Cmp(b) <= 0 {
		k := bits
		if a.Sign() != 0 {
			k = min(k, int(a.TrailingZeroBits()))
		}
		left := new(big.Int).Sub(b, a)
		left.Add(left, big.NewInt(1))
		k = min(k, left.BitLen()-1)
		addr, _ := netip.AddrFromSlice(a.FillBytes(make([]byte, bits/8)))
		out = append(out, netip.PrefixFrom(addr, bits-k))
		a.Add(a, new(big.Int).Lsh(big.NewInt(1), uint(k)))
	}
	return out
}

// refIP2ASN reads the table with strings.Split and strconv, and splits
// ranges with refBigRange. It expects the clean files of the corpus.
func refIP2ASN(t *testing.T, data []byte) tiCounts {
	var c tiCounts
	pfxs := map[netip.Prefix]bool{}
	asns := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 5 {
			t.Fatalf("reference: %q has %d fields", sc.Text(), len(f))
		}
		if asn, err := strconv.ParseUint(f[2], 10, 32); err != nil {
			t.Fatalf("reference: %q: %v", sc.Text(), err)
		} else if asn == 0 {
			c.Skipped++
			continue
		}
		c.Records++
		asns[f[2]] = true
		for _, p := range refBigRange(netip.MustParseAddr(f[0]), netip.MustParseAddr(f[1])) {
			pfxs[p] = true
		}
	}
	c.ASNs = len(asns)
	return tiPrefixCounts(c, pfxs)
}

func TestRefBigRange(t *testing.T) {
	t.Parallel()
	// The reference itself, on ranges whose answers are known by hand.
	for _, tc := range []struct {
		from, to string
		want     string
	}{
		{"1.1.1.0", "1.1.1.255", "[1.1.1.0/24]"},
		{"8.8.4.0", "8.8.4.2", "[8.8.4.0/31 8.8.4.2/32]"},
		{"0.0.0.0", "255.255.255.255", "[0.0.0.0/0]"},
		{"10.0.0.1", "10.0.0.6", "[10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32]"},
		{"::", "::1", "[::/127]"},
		{"2001:200::", "2001:200:5ff:ffff:ffff:ffff:ffff:ffff", "[2001:200::/38 2001:200:400::/39]"},
	} {
		got := tiJoinPrefixes(refBigRange(netip.MustParseAddr(tc.from), netip.MustParseAddr(tc.to)))
		if got != tc.want {
			t.Errorf("refBigRange(%s, %s) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}

// tiJoinPrefixes formats prefixes as "[a b c]".
func tiJoinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestCorpusIP2ASN(t *testing.T) {
	t.Parallel()
	// Row counts from the feed corpus's manifest (the v6 table has 152,385 rows, 47,944 of
	// them AS 0; the v4 subset 1,425 rows, none AS 0); prefixes and ASNs
	// verified with python3: ipaddress.summarize_address_range over every
	// routed row, distinct networks and distinct AS numbers.
	pinned := map[string]tiCounts{
		"ip2asn-v6_2023-12-08.tsv.gz":     {Records: 104441, Prefixes: 254302, IPv6: 254302, ASNs: 33802, Skipped: 47944},
		"ip2asn-v4-subset_2019-02-19.tsv": {Records: 1425, Prefixes: 1579, IPv4: 1579, ASNs: 13},
	}
	tiCorpus(t, FormatIP2ASN, tiShared(t, "asn/ip2asn*"), refIP2ASN, pinned)
}

func FuzzParseIP2ASN(f *testing.F) {
	tiSeeds(f, "ip2asn-*")                                                 // real excerpts: v6 (plain and gzip, with Not routed rows), v4 subset
	f.Add([]byte("::ffff:1.0.0.0\t::ffff:1.0.0.255\t1\tZZ\tmapped\n"))     // mapped range
	f.Add([]byte("::fffe:ffff:fffe\t::ffff:0.0.0.1\t1\tZZ\tstraddle\r\n")) // straddles ::ffff:0:0/96
	f.Add([]byte("0.0.0.0\t255.255.255.255\t4294967295"))                  // whole space, max ASN, no newline
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatIP2ASN, data)
	})
}
