package feeds

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseProxyList(t *testing.T) {
	t.Parallel()
	runLineCases(t, FormatProxyList, []lineCase{
		{
			name:    "monosans forms",
			in:      "socks4://144.31.222.106:7890\nhttp://85.8.47.198:7080\n185.128.104.152:8443",
			want:    []string{"1 144.31.222.106/32", "2 85.8.47.198/32", "3 185.128.104.152/32"},
			records: 3,
		},
		{
			name: "credentials, path, IPv6 in brackets, bare addresses and CIDRs",
			in: "http://user:p@ss:w0rd@192.0.2.10:3128/\nsocks5h://u@[2001:db8::7]:1080\n[2001:db8::8]:80\n" +
				"198.51.100.0/24\n2001:db8:1::/48\n::ffff:192.0.2.99\n[2001:db8::9]\nhttps://192.0.2.11\n",
			want: []string{"1 192.0.2.10/32", "2 2001:db8::7/128", "3 2001:db8::8/128", "4 198.51.100.0/24",
				"5 2001:db8:1::/48", "6 192.0.2.99/32", "7 2001:db8::9/128", "8 192.0.2.11/32"},
			records: 8,
		},
		{
			name:    "columns after the proxy",
			in:      "82.23.34.0/24;Trunk Networks LTD;1.0\n204.204.68.205;\n198.51.100.4 | 8080 | elite\n192.0.2.1:80\tUS  fast\n",
			want:    []string{"1 82.23.34.0/24", "2 204.204.68.205/32", "3 198.51.100.4/32", "4 192.0.2.1/32"},
			records: 4,
		},
		{
			name: "Avastel header: comments, a blank line, a header row",
			in: "# Avastel 1 day proxy bots IPs \n# Number of proxy IPs: 2\n\nip_address;autonomous_system\n" +
				"38.194.167.138;OMNI-FIBER\n  # indented comment\n14.182.219.52;VNPT Corp",
			want:    []string{"5 38.194.167.138/32", "7 14.182.219.52/32"},
			invalid: []int{4},
			records: 2,
		},
		{
			name:    "banners, host names and broken proxies are bad lines",
			in:      "Free proxy list, updated hourly\nproxy.example.com:8080\nhttp://proxy.example/\n1.2.3.4:\n1.2.3.4:65536\n1.2.3.4:+80\n1.2.3.4/24:80\n[2001:db8::1:80\n[2001:db8::1]x\n9x://1.2.3.4:80\n://1.2.3.4\n|192.0.2.1\n192.0.2.5:8080",
			want:    []string{"13 192.0.2.5/32"},
			invalid: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
			records: 1,
		},
		{
			name:    "zero-padded octets and zones are refused",
			in:      "103.250.166.04:6667\n[fe80::1%eth0]:80\nfe80::1%eth0\n104.248.63.17:30588\n",
			want:    []string{"4 104.248.63.17/32"},
			invalid: []int{1, 2, 3},
			records: 1,
		},
		{
			name:    "CRLF and port 0 and 65535",
			in:      "192.0.2.1:0\r\n192.0.2.2:65535\r\n",
			want:    []string{"1 192.0.2.1/32", "2 192.0.2.2/32"},
			records: 2,
		},
		{name: "empty body is not a feed", in: "", notFeed: true},
		{name: "HTML page is not a feed", in: "<html><head><title>403 Forbidden</title></head></html>", notFeed: true},
	})
}

// refProxyList reads a proxy list with strings.Cut and net/netip's
// ParseAddrPort, line by line.
func refProxyList(t *testing.T, data []byte) tiCounts {
	var c tiCounts
	pfxs := map[netip.Prefix]bool{}
	for _, line := range refLines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "|; \t"); i >= 0 {
			line = line[:i]
		}
		scheme, rest, hasScheme := strings.Cut(line, "://")
		if hasScheme {
			if scheme == "" {
				c.Invalid++
				continue
			}
			line, _, _ = strings.Cut(rest, "/")
		}
		if i := strings.LastIndex(line, "@"); i >= 0 {
			line = line[i+1:]
		}
		if ap, err := netip.ParseAddrPort(line); err == nil && ap.Addr().Zone() == "" {
			a := ap.Addr().Unmap()
			pfxs[netip.PrefixFrom(a, a.BitLen())] = true
			c.Records++
			continue
		}
		if p, ok := refJSONPrefix(line); ok && !hasScheme {
			pfxs[p] = true
			c.Records++
			continue
		}
		c.Invalid++
	}
	return tiPrefixCounts(c, pfxs)
}

// proxyManifest holds the line counts the feed corpus's manifest gives for the text proxy lists:
// data lines (records + invalid) and rejected lines. TheSpeedX has two
// zero-padded octets (lines 85 and 626); each Avastel list has a header
// row.
var proxyManifest = map[string][2]int{
	"monosans-proxies-all_2026-08-22.txt":                  {492, 0},
	"monosans-proxies-socks5_2026-08-22.txt":               {79, 0},
	"speedx-socks5_2021-07-14.txt":                         {1520, 2},
	"avastel-proxy-bot-ips-1day_2025-11-22.txt":            {30001, 1},
	"avastel-proxy-bot-ips-blocklist-5days_2026-08-22.txt": {301, 1},
	"firehol-socks_proxy_2021-01-18.ipset":                 {302, 0},
	"firehol-sslproxies_2021-01-18.ipset":                  {102, 0},
	"firehol-proxylists_2020-01-25.ipset":                  {2668, 0},
	"cloudflare-ips-v4_2024-10-29.txt":                     {15, 0},
	"cloudflare-ips-v6_2023-10-11.txt":                     {7, 0},
}

// TestCorpusProxyList reads the text proxy lists with proxy-list and
// compares them with the reference. monosans and TheSpeedX write
// [scheme://]ip:port, and Avastel a ';'-separated CSV whose columns are
// data, not comments, with a header row: proxy-list is their format (the
// header row is one bad line). monosans' proxies.json is read with the
// json format (TestCorpusJSONMonosans).
func TestCorpusProxyList(t *testing.T) {
	t.Parallel()
	files := tiShared(t, "proxy/monosans-*.txt", "proxy/speedx-*.txt", "proxy/avastel-*.txt")
	tiCorpusLines(t, FormatProxyList, files, refProxyList)
}

// TestCorpusProxyIPList reads the lists that are plain address lists with
// ip-list: FireHOL's proxy ipsets ('#' header, one IPv4 a line, the port
// dropped by FireHOL) and Cloudflare's ips-v4/ips-v6 (no final newline).
func TestCorpusProxyIPList(t *testing.T) {
	t.Parallel()
	files := tiShared(t, "proxy/firehol-*.ipset", "cloud/cloudflare-ips-v[46]_*.txt")
	tiCorpusLines(t, FormatIPList, files, func(t *testing.T, data []byte) tiCounts {
		r := refIPList(string(data))
		c := tiCounts{Records: r.records, Invalid: r.invalid, Skipped: r.skipped}
		pfxs := map[netip.Prefix]bool{}
		for _, e := range r.entries {
			pfxs[e.pfx] = true
		}
		return tiPrefixCounts(c, pfxs)
	})
}

// tiCorpusLines runs tiCorpus, with bad lines allowed, and checks the line
// counts of proxyManifest.
func tiCorpusLines(t *testing.T, f Format, files []string, ref func(t *testing.T, data []byte) tiCounts) {
	t.Helper()
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			entries, st, err := tiParse(f, tiRead(t, path))
			if _, fatal := tiErrorLines(err); fatal {
				t.Fatalf("Parse: %v", err)
			}
			tiCheckEntries(t, f, entries)
			got := tiTally(entries, st)
			if want := ref(t, tiRead(t, path)); got != want {
				t.Errorf("Parse counts:\n got %v\nwant %v (reference)", got, want)
			}
			if want, ok := proxyManifest[name]; ok && (got.Records+got.Invalid != want[0] || got.Invalid != want[1]) {
				t.Errorf("%d data lines, %d invalid; MANIFEST.md says %d, %d", got.Records+got.Invalid, got.Invalid, want[0], want[1])
			}
			t.Logf("%s: %v", name, got)
		})
	}
}

func FuzzParseProxyList(f *testing.F) {
	tiSeeds(f, "proxylist-*")                                                      // real excerpts: monosans all.txt, TheSpeedX (zero-padded octet), Avastel 1-day and 5-day
	f.Add([]byte("http://u:p@[2001:db8::1]:8080/x\n[::ffff:1.2.3.4]\n[::1]/64\n")) // credentials, brackets, mapped
	f.Add([]byte("a://@:\n://\n[\n]\n@@@:1\n1.2.3.4|;|\n#\n \t\n"))                // degenerate fields
	f.Add([]byte("1.2.3.4:99999\n1.2.3.4:-1\n1.2.3.4/33\n::/0\n"))                 // out of range
	f.Fuzz(func(t *testing.T, data []byte) {
		got := parseText(string(data), Options{Format: FormatProxyList})
		checkInvariants(t, data, got, true, false)
		tiRoundTrip(t, got.entries)
	})
}
