package feeds

import (
	"bufio"
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParsePyASN(t *testing.T) {
	t.Parallel()
	tiRun(t, FormatPyASN, []tiCase{
		{
			name: "pyasn IPASN with header",
			in: "; IP-ASN32-DAT file\n; Original file : data/rib.20140513.0600.bz2.skip\n; \n" +
				"1.0.0.0/24\t15169\n1.0.4.0/22\t56203\n2001:db8::/32\t64496\n",
			want:    []string{"4 1.0.0.0/24 AS15169", "5 1.0.4.0/22 AS56203", "6 2001:db8::/32 AS64496"},
			records: 3,
		},
		{
			name: "CAIDA pfx2as with multi-origin and AS-sets",
			in: "1.0.0.0\t24\t13335\n" +
				"1.0.4.0\t22\t38803_56203\n" + // multi-origin: first
				"1.0.16.0\t20\t{2519,2520}\n" + // AS-set: first
				"1.0.32.0\t19\t{4134,4135}_9808\n" + // both
				"2001:db8::\t32\t64496\n",
			want:    []string{"1 1.0.0.0/24 AS13335", "2 1.0.4.0/22 AS38803", "3 1.0.16.0/20 AS2519", "4 1.0.32.0/19 AS4134", "5 2001:db8::/32 AS64496"},
			records: 5,
		},
		{
			name:    "host bits, mapped, spaces, CRLF",
			in:      "1.0.0.7/24 15169\r\n::ffff:1.2.3.0/120\t1\r\n  # comment\r\n\r\n",
			want:    []string{"1 1.0.0.0/24 AS15169", "2 1.2.3.0/24 AS1"},
			records: 2,
		},
		{
			name: "garbage",
			in: "1.0.0.0/24\n" + // no ASN
				"1.0.0.0/33\t1\n" + // bad length
				"1.0.0.0\t33\t1\n" + // bad pfx2as length
				"1.0.0.0\tx\t1\n" +
				"1.0.0.0/24\tAS1\n" + // AS prefix not used here
				"1.0.0.0/24\t1_x\n" +
				"1.0.0.0/24\t4294967296\n" +
				"1.0.0.0/24\t1\t2\t3\n" + // too many fields
				"1.0.0/24\t1\n" +
				"1.0.0.0/24\t{}\n" +
				"9.9.9.0/24\t9\n",
			want:    []string{"11 9.9.9.0/24 AS9"},
			records: 1,
			bad:     []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		},
		{
			name:    "truncated",
			in:      "1.0.0.0/24\t15169\n1.0.4.0/2",
			want:    []string{"1 1.0.0.0/24 AS15169"},
			records: 1,
			bad:     []int{2},
		},
	})
}

// refPyASN reads prefix<TAB>asn lines with strings.Fields and
// netip.ParsePrefix.
func refPyASN(t *testing.T, data []byte) tiCounts {
	var c tiCounts
	pfxs := map[netip.Prefix]bool{}
	asns := map[uint64]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], ";") {
			continue
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			t.Fatalf("reference: %q: %v", sc.Text(), err)
		}
		asn, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			t.Fatalf("reference: %q: %v", sc.Text(), err)
		}
		c.Records++
		pfxs[p.Masked()] = true
		asns[asn] = true
	}
	c.ASNs = len(asns)
	return tiPrefixCounts(c, pfxs)
}

func TestCorpusPyASN(t *testing.T) {
	t.Parallel()
	// The feed corpus's manifest and the file's own "; Prefixes : 512621" header: 512,621
	// IPv4 prefixes, no duplicates; distinct origin ASNs verified with
	// zcat | grep -v '^;' | cut -f2 | sort -u | wc -l.
	pinned := map[string]tiCounts{
		"pyasn-ipasn_2014-05-13.dat.gz": {Records: 512621, Prefixes: 512621, IPv4: 512621, ASNs: 46823},
	}
	tiCorpus(t, FormatPyASN, tiShared(t, "asn/pyasn*"), refPyASN, pinned)
}

func FuzzParsePyASN(f *testing.F) {
	tiSeeds(f, "pyasn-*")                                                    // real excerpt: the pyasn IPASN header and first prefixes
	f.Add([]byte("1.0.4.0\t22\t38803_56203\n1.0.16.0\t20\t{2519,2520}\r\n")) // CAIDA pfx2as forms
	f.Add([]byte("::ffff:1.2.3.0/120\t1\n2001:db8::/129 1"))                 // mapped, bad length
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatPyASN, data)
	})
}
