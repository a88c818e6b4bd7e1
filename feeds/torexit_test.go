package feeds

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTorExitAddresses(t *testing.T) {
	t.Parallel()
	tiRun(t, FormatTorExitAddresses, []tiCase{
		{
			name: "live form",
			in: "ExitNode FE39F07EBE7870DCE124AB30DF3ABD0700A43F75\n" +
				"Published 2024-03-11 13:07:19\n" +
				"LastStatus 2024-03-12 09:00:00\n" +
				"ExitAddress 185.241.208.232 2024-03-12 08:10:51\n",
			want:    []string{"4 185.241.208.232/32"},
			records: 1,
		},
		{
			name: "collector header and several addresses",
			in: "@type tordnsel 1.0\nDownloaded 2018-11-01 00:02:01\n" +
				"ExitNode 6BF913C31A47E020637121014DB2AFE0877BD31B\n" +
				"Published 2018-10-31 20:46:24\nLastStatus 2018-10-31 21:02:25\n" +
				"ExitAddress 185.220.100.254 2018-10-31 03:05:38\n" +
				"ExitAddress 94.31.53.203 2018-10-31 03:05:38\n",
			want:    []string{"6 185.220.100.254/32", "7 94.31.53.203/32"},
			records: 2,
		},
		{
			name:    "CRLF, tabs, blank lines, IPv6 and mapped",
			in:      "ExitNode X\r\n\r\nExitAddress\t2001:db8::1 2024-03-12 08:10:51\r\nExitAddress ::ffff:1.2.3.4 2024-03-12 08:10:51\r\n",
			want:    []string{"3 2001:db8::1/128", "4 1.2.3.4/32"},
			records: 2,
		},
		{
			name: "garbage",
			in: "ExitAddress 1.2.3.4\n" + // no time
				"ExitAddress 1.2.3 2024-03-12 08:10:51\n" + // bad address
				"ExitAddress 1.2.3.4 2024-03-12 8h\n" + // bad time
				"ExitAddress 1.2.3.4 2024-03-12 08:10:51 extra\n" +
				"ExitAddress fe80::1%eth0 2024-03-12 08:10:51\n" + // zone
				"1.2.3.4\n" + // an ip-list line in the wrong format
				"ExitAddress 5.6.7.8 2024-03-12 08:10:51\n",
			want:    []string{"7 5.6.7.8/32"},
			records: 1,
			bad:     []int{1, 2, 3, 4, 5, 6},
		},
		{
			name:    "truncated last line without newline",
			in:      "ExitNode A\nExitAddress 5.6.7.8 2024-03-12 08:10:51",
			want:    []string{"2 5.6.7.8/32"},
			records: 1,
		},
		{name: "empty body is not a feed", in: "", fatal: true},
	})
}

// refTorExit counts a TorDNSEL list with strings.Fields over whole lines.
func refTorExit(t *testing.T, data []byte) tiCounts {
	var c tiCounts
	pfxs := map[netip.Prefix]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "ExitAddress" {
			continue
		}
		if len(f) != 4 {
			c.Invalid++
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			c.Invalid++
			continue
		}
		c.Records++
		pfxs[netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())] = true
	}
	return tiPrefixCounts(c, pfxs)
}

func TestCorpusTorExitAddresses(t *testing.T) {
	t.Parallel()
	// Verified with grep -c '^ExitAddress ' and awk '{print $2}' | sort -u | wc -l;
	// the distinct counts agree with the feed corpus's manifest.
	pinned := map[string]tiCounts{
		"tor-exit-addresses_2024-03-12.txt":           {Records: 2378, Prefixes: 1174, IPv4: 1174},
		"tor-exit-list-collector_2018-11-01-0002.txt": {Records: 934, Prefixes: 869, IPv4: 869},
	}
	tiCorpus(t, FormatTorExitAddresses, tiShared(t, "tor/tor-exit-*.txt"), refTorExit, pinned)
}

func FuzzParseTorExitAddresses(f *testing.F) {
	tiSeeds(f, "torexit-*.txt")                                     // real excerpts: live form and CollecTor form
	f.Add([]byte("ExitAddress 1.2.3.4 2024-03-12 08:10:51\r\n"))    // CRLF
	f.Add([]byte("ExitAddress [2001:db8::1] 2024-03-12 08:10:51"))  // bracketed IPv6, no newline
	f.Add([]byte("ExitAddress ::ffff:1.2.3.4 2024-02-30 25:61:61")) // mapped, impossible time
	f.Add([]byte("@type tordnsel 1.0\nExitAddress\n"))              // keyword alone
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatTorExitAddresses, data)
	})
}
