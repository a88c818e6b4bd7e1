package feeds

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

const (
	tiRNS   = "r titamon3 ABElTMhEQ2myDvERVriZBDgiGlQ y/fqWhmFHAgpsHc59tXyQKtcRks 2022-11-18 21:31:58 178.218.144.18 443 0\n"
	tiRMD   = "r titamon3 ABElTMhEQ2myDvERVriZBDgiGlQ 2022-11-18 21:31:58 178.218.144.18 443 0\n"
	tiSExit = "s Exit Fast Guard HSDir Running Stable V2Dir Valid\n"
	tiHead  = "network-status-version 3\nvote-status consensus\nvalid-after 2022-11-19 10:00:00\n"
)

func TestParseTorConsensus(t *testing.T) {
	t.Parallel()
	tiRun(t, FormatTorConsensus, []tiCase{
		{
			name:    "ns exit with IPv6",
			in:      tiHead + tiRNS + "a [2a0b:f4c2:2::33]:10133\n" + tiSExit + "v Tor 0.4.7.10\nw Bandwidth=100\np accept 80,443\ndirectory-footer\n",
			want:    []string{"4 178.218.144.18/32", "5 2a0b:f4c2:2::33/128"},
			records: 1,
		},
		{
			name:    "microdesc with CollecTor @type line",
			in:      "@type network-status-microdesc-consensus-3 1.0\n" + tiRMD + "a [2001:db8::1]:443\n" + tiSExit + "m 38hr2IZV5m\n",
			want:    []string{"2 178.218.144.18/32", "3 2001:db8::1/128"},
			records: 1,
		},
		{
			name: "BadExit and non-exits are skipped",
			in: tiRNS + "s BadExit Exit Fast Running Valid\n" +
				tiRNS + "s Fast Running Valid\n" +
				tiRNS + "s BadExit Running\n" +
				tiRNS + "s Exit\n",
			want:    []string{"7 178.218.144.18/32"},
			records: 1,
			skipped: 3,
		},
		{
			name:    "relay without an s line",
			in:      tiRNS + "a [2001:db8::1]:443\n" + tiRNS + tiSExit,
			want:    []string{"3 178.218.144.18/32"},
			records: 1,
			bad:     []int{1},
		},
		{
			name: "garbage r lines",
			in: "r short line 1.2.3.4 1 2\n" + tiSExit + // too few fields: its s line belongs to nothing
				"r n id d 2022-11-18 21:31:58 2001:db8::1 443 0\n" + tiSExit + // IPv6 on r
				"r n id d 2022-11-18 21:31:58 1.2.3 443 0\n" + // bad IPv4
				"r n id d 2022-11-18 21:31:58 1.2.3.4 443 x\n" + // bad DirPort
				"r n id d 2022-11-18 21:31:58 1.2.3.4 443 0 9 9\n" + // too many fields
				tiRMD + tiSExit,
			want:    []string{"8 178.218.144.18/32"},
			records: 1,
			bad:     []int{1, 3, 5, 6, 7},
		},
		{
			name:    "bad a line keeps the relay",
			in:      tiRNS + "a 2001:db8::1\n" + "a [2001:db8::2]:70000\n" + "a [fe80::1%eth0]:1\n" + tiSExit,
			want:    []string{"1 178.218.144.18/32"},
			records: 1,
			bad:     []int{2, 3, 4},
		},
		{
			name:    "second s line",
			in:      tiRNS + tiSExit + "s Fast\n",
			want:    []string{"1 178.218.144.18/32"},
			records: 1,
			bad:     []int{3},
		},
		{
			name:    "footer ends the router section",
			in:      tiRNS + tiSExit + "directory-footer\n" + "r x y z 2022-11-18 21:31:58 9.9.9.9 443 0\ns Exit\n",
			want:    []string{"1 178.218.144.18/32"},
			records: 1,
		},
		{
			name:    "truncated document",
			in:      tiHead + tiRNS + tiSExit + tiRMD + "a [2001:db8::1]:4",
			want:    []string{"4 178.218.144.18/32"},
			records: 1,
			bad:     []int{6},
		},
		{
			name:    "CRLF and trailing spaces",
			in:      strings.ReplaceAll(tiRNS+"a [2001:db8::1]:443 \n"+"s Exit Running \n", "\n", "\r\n"),
			want:    []string{"1 178.218.144.18/32", "2 2001:db8::1/128"},
			records: 1,
		},
		{
			name:    "mapped IPv4 on an a line",
			in:      tiRNS + "a [::ffff:1.2.3.4]:443\n" + tiSExit,
			want:    []string{"1 178.218.144.18/32", "2 1.2.3.4/32"},
			records: 1,
		},
		{name: "header only", in: tiHead + "directory-footer\n"},
		{name: "empty body is not a feed", in: "", fatal: true},
		{
			name:  "not a consensus",
			in:    "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\nExitAddress 162.247.74.201 2018-10-31 06:03:23\n",
			fatal: true,
		},
	})
}

// refTorConsensus cuts the document at the footer, splits it into relay
// blocks at "\nr " and reads each block on its own.
func refTorConsensus(t *testing.T, data []byte) tiCounts {
	doc := strings.ReplaceAll(string(data), "\r\n", "\n")
	if i := strings.Index(doc, "\ndirectory-footer\n"); i >= 0 {
		doc = doc[:i+1]
	}
	var c tiCounts
	pfxs := map[netip.Prefix]bool{}
	for _, block := range strings.Split(doc, "\nr ")[1:] {
		lines := strings.Split("r "+block, "\n")
		r := strings.Fields(lines[0])
		var flags []string
		var addrs []netip.Addr
		addrs = append(addrs, netip.MustParseAddr(r[len(r)-3]))
		for _, l := range lines[1:] {
			switch {
			case strings.HasPrefix(l, "s "):
				flags = strings.Fields(l)[1:]
			case strings.HasPrefix(l, "a "):
				host, _, err := net.SplitHostPort(strings.TrimSpace(l[2:]))
				if err != nil {
					t.Fatalf("reference: %q: %v", l, err)
				}
				addrs = append(addrs, netip.MustParseAddr(host).Unmap())
			}
		}
		if !slices.Contains(flags, "Exit") || slices.Contains(flags, "BadExit") {
			c.Skipped++
			continue
		}
		c.Records++
		for _, a := range addrs {
			pfxs[netip.PrefixFrom(a, a.BitLen())] = true
		}
	}
	return tiPrefixCounts(c, pfxs)
}

func TestCorpusTorConsensus(t *testing.T) {
	t.Parallel()
	// Verified with awk over the r and s lines: the 2022-11-19 documents have
	// 6,088 relays, 1,438 with the Exit flag (the 1,439 of the feed corpus's manifest counts s
	// lines matching "Exit", which includes one relay flagged BadExit and not
	// Exit), 11 BadExit, 10 of which also have Exit: 1,428 exits qualify,
	// with 1,138 distinct IPv4 addresses. The cropped 2018 document has 208
	// relays and 22 exits, none BadExit. The distinct IPv4 and IPv6
	// addresses of the qualifying relays were verified with python3
	// (ipaddress over the r and a lines up to directory-footer).
	pinned := map[string]tiCounts{
		"consensus_2022-11-19-1000.txt":                   {Records: 1428, Prefixes: 1785, IPv4: 1138, IPv6: 647, Skipped: 4660},
		"consensus-microdesc_2022-11-19-1000.txt":         {Records: 1428, Prefixes: 1785, IPv4: 1138, IPv6: 647, Skipped: 4660},
		"consensus-cropped-collector_2018-06-01-0000.txt": {Records: 22, Prefixes: 27, IPv4: 22, IPv6: 5, Skipped: 186},
	}
	tiCorpus(t, FormatTorConsensus, tiShared(t, "tor/consensus*.txt"), refTorConsensus, pinned)
}

func FuzzParseTorConsensus(f *testing.F) {
	tiSeeds(f, "torconsensus-*.txt")                                            // real excerpts: ns, microdesc, CollecTor (@type)
	f.Add([]byte(tiRNS + "a [2001:db8::1]:443\r\n" + tiSExit))                  // CRLF a line
	f.Add([]byte(tiRMD + "s BadExit Exit\n" + tiRMD))                           // BadExit, then a truncated relay
	f.Add([]byte("r \na x\ns Exit\nr a b c d e f g h i j k\ndirectory-footer")) // garbage
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatTorConsensus, data)
	})
}
