package feeds

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipintel/ipintel/internal/testenv"
)

// lineCase is one table-driven case for a line format: the input, the
// options, the expected entries as "line prefix" strings and counts.
type lineCase struct {
	name    string
	in      string
	opts    Options
	want    []string // "line prefix", e.g. "3 192.0.2.0/24"
	invalid []int    // lines expected to be rejected
	records int
	skipped int
	notFeed bool // Parse fails with ErrNotFeed
}

func runLineCases(t *testing.T, format Format, cases []lineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			opts.Format = format
			got := parseText(tc.in, opts)
			if tc.notFeed {
				if len(got.fatal) != 1 || !errors.Is(got.fatal[0], ErrNotFeed) {
					t.Fatalf("Parse: error %v, want ErrNotFeed", got.fatal)
				}
			} else if len(got.fatal) != 0 {
				t.Fatalf("Parse: unexpected error %v", got.fatal)
			}
			var entries []string
			for _, e := range got.entries {
				entries = append(entries, strconv.Itoa(e.Line)+" "+e.Prefix.String())
			}
			if !slices.Equal(entries, tc.want) {
				t.Errorf("entries = %q, want %q", entries, tc.want)
			}
			var badLines []int
			for _, le := range got.lineErrs {
				badLines = append(badLines, le.Line)
			}
			if !slices.Equal(badLines, tc.invalid) {
				t.Errorf("bad lines = %v, want %v (errors %v)", badLines, tc.invalid, got.lineErrs)
			}
			if got.stats.Invalid != len(tc.invalid) || got.stats.Records != tc.records || got.stats.Skipped != tc.skipped {
				t.Errorf("stats = %+v, want Records %d Invalid %d Skipped %d", got.stats, tc.records, len(tc.invalid), tc.skipped)
			}
		})
	}
}

func TestParseIPList(t *testing.T) {
	t.Parallel()
	runLineCases(t, FormatIPList, []lineCase{
		{name: "empty body is not a feed", in: "", notFeed: true},
		{name: "white space only is not a feed", in: " \r\n\t\n", notFeed: true},
		{name: "comments only, no final newline", in: "# Manually added netblocks\n# Comment", records: 0},
		{
			name: "firehol header then data", records: 2,
			in:   "#\n# firehol_level1\n#\n# ipv4 hash:net ipset\n0.0.0.0/8\n1.10.16.0/20\n",
			want: []string{"5 0.0.0.0/8", "6 1.10.16.0/20"},
		},
		{
			name: "abuseipdb inline comment", records: 2,
			in:   "1.0.138.92       # TH  AS23969   TOT Public Company Limited\n143.14.9.58      # TH  -         -\n",
			want: []string{"1 1.0.138.92/32", "2 143.14.9.58/32"},
		},
		{
			name: "semicolon comments", records: 1,
			in:   "; header\n192.0.2.0/24 ; SBL1\n",
			want: []string{"2 192.0.2.0/24"},
		},
		{
			name: "crlf and blank lines", records: 2,
			in:   "192.0.2.1\r\n\r\n   \r\n192.0.2.2\r\n",
			want: []string{"1 192.0.2.1/32", "4 192.0.2.2/32"},
		},
		{
			name: "byte order mark", records: 1,
			in:   "\ufeff192.0.2.1\n\ufeff192.0.2.2\n",
			want: []string{"1 192.0.2.1/32"}, invalid: []int{2},
		},
		{
			name: "no trailing newline", records: 1,
			in:   "198.51.100.7",
			want: []string{"1 198.51.100.7/32"},
		},
		{
			name: "zero-padded ipv6", records: 2,
			in:   "2001:0470:0001:0908:0000:0000:0000:9001\n2001:0418:8006:0000:0000:0000:0000:0000/48\n",
			want: []string{"1 2001:470:1:908::9001/128", "2 2001:418:8006::/48"},
		},
		{
			name: "ipv4-mapped unmapped", records: 2,
			in:   "::ffff:192.0.2.1\n::ffff:192.0.2.0/120\n",
			want: []string{"1 192.0.2.1/32", "2 192.0.2.0/24"},
		},
		{
			name: "host bits masked", records: 2,
			in:   "192.0.2.77/24\n2001:db8::1/32\n",
			want: []string{"1 192.0.2.0/24", "2 2001:db8::/32"},
		},
		{
			name: "proxy list address:port", records: 3,
			in:   "192.0.2.1:8080\n[2001:db8::1]:443\n[::ffff:192.0.2.2]:3128\n",
			want: []string{"1 192.0.2.1/32", "2 2001:db8::1/128", "3 192.0.2.2/32"},
		},
		{
			name: "ranges split", records: 3,
			in: "192.0.2.0-192.0.2.255\n192.0.2.1 - 192.0.2.6\n10.0.0.5-10.0.0.5\n",
			want: []string{
				"1 192.0.2.0/24",
				"2 192.0.2.1/32", "2 192.0.2.2/31", "2 192.0.2.4/31", "2 192.0.2.6/32",
				"3 10.0.0.5/32",
			},
		},
		{
			name: "garbage", records: 1,
			in: strings.Join([]string{
				"hello",                     // 1: a word
				"192.0.2.1 extra",           // 2: trailing text
				"300.1.1.1",                 // 3: octet out of range
				"010.1.1.1",                 // 4: zero-padded octet, ambiguous
				"192.0.2.0/33",              // 5: length out of range
				"192.0.2.9-192.0.2.1",       // 6: reversed range
				"192.0.2.1-2001:db8::1",     // 7: mixed range
				"fe80::1%eth0",              // 8: zone
				"::ffff:192.0.2.0/64",       // 9: mapped prefix shorter than /96
				"192.0.2.0/",                // 10: empty length
				"-",                         // 11: a dash alone
				"192.0.2.3",                 // 12: fine
				"\x00\xff\xfe",              // 13: binary
				"1.2.3.4/24/8",              // 14: two slashes
				"2001:db8::/48 2001:db8::1", // 15: two networks
				"192.0.2.1:",                // 16: empty port
				"192.0.2.1:99999",           // 17: port out of range
				"[fe80::1%eth0]:80",         // 18: zone with a port
				"192.0.2.0/24:80",           // 19: prefix with a port
			}, "\n"),
			want:    []string{"12 192.0.2.3/32"},
			invalid: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19},
		},
	})
}

func TestParseIPListGzip(t *testing.T) {
	t.Parallel()
	buf := gzipBytes(t, []byte("# gz\n192.0.2.0/24\n2001:db8::/32\n"))
	var got []netip.Prefix
	st, err := Parse(bytes.NewReader(buf), Options{Format: FormatIPList}, func(e Entry) { got = append(got, e.Prefix) })
	if err != nil || st.Records != 2 {
		t.Fatalf("Parse(gzip) = %+v, %v; want 2 records, no error", st, err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(got, want) {
		t.Errorf("Parse(gzip) entries = %v, want %v", got, want)
	}

	// A gzip stream cut short is a file error, not a bad line.
	full := gzipBytes(t, bytes.Repeat([]byte("192.0.2.1\n"), 1000))
	cut := full[:len(full)/2]
	out := parseText(string(cut), Options{Format: FormatIPList})
	if len(out.fatal) == 0 {
		t.Errorf("Parse(truncated gzip): no file error, stats %+v", out.stats)
	}
}

// gzipBytes returns data gzip-compressed.
func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestIPListLineErrors checks the LineError fields and the cap on kept
// errors, which must not cap the count.
func TestIPListLineErrors(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("bad\n", 5) + "192.0.2.1\n"
	out := parseText(in, Options{Format: FormatIPList, Source: "x.txt", MaxLineErrors: 3})
	if out.stats.Invalid != 5 || len(out.lineErrs) != 3 {
		t.Fatalf("Invalid = %d with %d errors kept, want 5 with 3", out.stats.Invalid, len(out.lineErrs))
	}
	le := out.lineErrs[1]
	if le.Source != "x.txt" || le.Line != 2 || le.Text != "bad" || le.Err == nil {
		t.Errorf("LineError = %+v, want Source x.txt Line 2 Text bad", le)
	}
}

// corpusFiles returns the shared corpus files matching the patterns and
// fails when a pattern matches nothing, so a renamed file cannot make the
// corpus test pass vacuously.
func corpusFiles(t *testing.T, dir string, patterns ...string) []string {
	t.Helper()
	var files []string
	for _, pat := range patterns {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil || len(m) == 0 {
			t.Fatalf("corpus pattern %s matches nothing (%v)", pat, err)
		}
		files = append(files, m...)
	}
	return files
}

func readCorpus(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// corpusCounts is what the MANIFEST states for a file (records, IPv6
// prefixes), each confirmed by grep/awk on the file, as a second check
// beside the reference parser.
type corpusCounts struct{ records, ipv6 int }

// ipListManifest: data lines by grep -v "^#" | grep -c ., IPv6 by grep -c : on
// the same lines minus their "#" comments.
var ipListManifest = map[string]corpusCounts{
	"firehol-blocklist_de_2021-01-18.ipset":          {36274, 0},
	"firehol-et_compromised_2021-01-18.ipset":        {8098, 0},
	"firehol-spamhaus_drop_2021-01-18.netset":        {944, 0},
	"firehol-spamhaus_edrop_2021-01-18.netset":       {72, 0},
	"firehol_level1_2021-01-18.netset":               {2760, 0},
	"firehol_level2_2021-01-18.netset":               {28481, 0},
	"et-compromised-ips_2026-08-21.txt":              {539, 0},
	"abuseipdb-s100-1d_2025-08-09.ipv4":              {50880, 0},
	"secops-tor-exit-nodes_2024-02-27.lst":           {1746, 619},
	"secops-tor-nodes_2024-02-27.lst":                {8054, 2423},
	"torbulkexitlist_2024-03-12.txt":                 {1174, 0},
	"firehol-tor_exits_2021-01-18.ipset":             {1418, 0},
	"x4bnet-datacenter-ipv4_2026-08-22.txt":          {42566, 0},
	"x4bnet-datacenter-ipv6_2026-08-22.txt":          {8752, 8752},
	"x4bnet-vpn-ipv4_2026-08-22.txt":                 {10862, 0},
	"x4bnet-vpn-ipv6_2026-08-22.txt":                 {498, 498},
	"x4bnet-input-vpn-ips-Manual_2026-08-22.txt":     {0, 0},
	"x4bnet-input-vpn-ips-apple_2026-08-22.txt":      {3290, 0},
	"x4bnet-input-vpn-ips-mullvadvpn_2026-08-22.txt": {566, 0},
	"x4bnet-input-vpn-ips-pia_2026-08-22.txt":        {1548, 0},
	"x4bnet-input-vpn-ips-protonvpn_2026-08-22.txt":  {2715, 0},
	"ipverse-as136787-ipv4-aggregated.txt":           {368, 0},
	"ipverse-as209854-ipv4-aggregated.txt":           {188, 0},
	"ipverse-as209854-ipv6-aggregated.txt":           {8, 8},
	"ipverse-as13335-ipv4-aggregated.txt":            {374, 0},
}

// checkManifest compares a parse with the MANIFEST counts, when listed.
func checkManifest(t *testing.T, manifest map[string]corpusCounts, file string, got parsed) {
	t.Helper()
	want, ok := manifest[filepath.Base(file)]
	if !ok {
		t.Logf("%s: not in the MANIFEST table; checked against the reference only", filepath.Base(file))
		return
	}
	ipv6 := 0
	for _, e := range got.entries {
		if e.Prefix.Addr().Is6() {
			ipv6++
		}
	}
	if got.stats.Records != want.records || ipv6 != want.ipv6 {
		t.Errorf("%s: records %d, ipv6 entries %d; MANIFEST says %d, %d", filepath.Base(file), got.stats.Records, ipv6, want.records, want.ipv6)
	}
}

// TestCorpusIPList parses every ip-list file of the shared corpus and
// compares it, entry by entry and line by line, with the reference.
func TestCorpusIPList(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedFeeds(t)
	files := corpusFiles(t, dir,
		"abuse/*.ipset", "abuse/*.netset", "abuse/et-compromised-*.txt", "abuse/abuseipdb-*",
		"tor/torbulkexitlist_*", "tor/secops-*.lst", "tor/firehol-*.ipset",
		"vpn/x4bnet-*-ipv[46]_*.txt", "vpn/x4bnet-input-vpn-ips-*.txt",
		"vpn/ipverse-*-aggregated.txt", "asn/ipverse-*-aggregated.txt",
	)
	for _, file := range files {
		text := readCorpus(t, file)
		got := parseText(text, Options{Format: FormatIPList, Source: file})
		if len(got.fatal) != 0 {
			t.Errorf("%s: %v", file, got.fatal)
		}
		compareRef(t, filepath.Base(file), got, refIPList(text), true)
		checkManifest(t, ipListManifest, file, got)
	}
}

// TestParseIPListStreams proves that entries are handed out while the
// input is still being written: each line is written only after the entry
// of the one before has arrived.
func TestParseIPListStreams(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	got := make(chan netip.Prefix)
	go func() {
		for i := range 3 {
			fmt.Fprintf(pw, "192.0.2.%d\n", i)
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				pw.CloseWithError(errors.New("no entry before the next line: the parser is not streaming"))
				return
			}
		}
		pw.CloseWithError(nil)
	}()
	st, err := Parse(pr, Options{Format: FormatIPList}, func(e Entry) { got <- e.Prefix })
	if err != nil || st.Records != 3 {
		t.Fatalf("Parse(pipe) = %+v, %v; want 3 records", st, err)
	}
}

// TestParseIPListLongLine checks that a line longer than the line limit
// is one bad line, and the lines around it still parse.
func TestParseIPListLongLine(t *testing.T) {
	t.Parallel()
	in := "192.0.2.1\n" + strings.Repeat("9", maxLineLen+10) + "\n192.0.2.2\n"
	out := parseText(in, Options{Format: FormatIPList})
	if out.stats.Records != 2 || out.stats.Invalid != 1 || len(out.lineErrs) != 1 || out.lineErrs[0].Line != 2 {
		t.Errorf("stats %+v, errors %v; want 2 records and line 2 invalid", out.stats, out.lineErrs)
	}
	if len(out.lineErrs) == 1 && len(out.lineErrs[0].Text) > 200 {
		t.Errorf("LineError.Text holds %d bytes; want it truncated", len(out.lineErrs[0].Text))
	}
}
