package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/testenv"
)

// runCheck runs "ipintel feeds check args…" in-process.
func runCheck(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"feeds", "check"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// decodeJSONLines decodes one feedCounts per line and checks key order.
func decodeJSONLines(t *testing.T, out string) []feedCounts {
	t.Helper()
	var res []feedCounts
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, `{"file":`) || !strings.Contains(line, `"format":`) ||
			strings.Index(line, `"records"`) > strings.Index(line, `"prefixes"`) ||
			strings.Index(line, `"ipv6"`) > strings.Index(line, `"asns"`) ||
			strings.Index(line, `"asns"`) > strings.Index(line, `"invalid"`) {
			t.Errorf("JSON line %q: keys not in the documented order", line)
		}
		var c feedCounts
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("JSON line %q: %v", line, err)
		}
		res = append(res, c)
	}
	return res
}

func TestFeedsCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	list := writeFile(t, dir, "list.txt", "# header\n192.0.2.1\n192.0.2.1/32\n192.0.2.0-192.0.2.3\n2001:db8::1/64\nbogus\n")
	ipsum := writeFile(t, dir, "ipsum.txt", "192.0.2.1\t3\n192.0.2.2\t1\n")
	csvFile := writeFile(t, dir, "cloud.csv", "vendor,range\nAWS,192.0.2.0/24\n")

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := runCheck(t, "-format", "ip-list", "-json", list, list)
		if code != exitOK {
			t.Fatalf("exit %d, want 0; stderr %s", code, errOut)
		}
		got := decodeJSONLines(t, out)
		want := feedCounts{File: list, Format: "ip-list", Records: 4, Prefixes: 3, IPv4: 2, IPv6: 1, Invalid: 1}
		if len(got) != 2 || got[0] != want || got[1] != want {
			t.Errorf("objects = %+v, want 2 × %+v", got, want)
		}
		if !strings.Contains(errOut, list+":6: ") || !strings.Contains(errOut, `"bogus"`) {
			t.Errorf("stderr %q does not show the bad line as file:6", errOut)
		}
	})
	t.Run("table", func(t *testing.T) {
		t.Parallel()
		code, out, _ := runCheck(t, "-format=ip-list", list)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if code != exitOK || len(lines) != 2 {
			t.Fatalf("exit %d, output %q; want 0 and header plus one row", code, out)
		}
		if f := strings.Fields(lines[1]); strings.Join(f, " ") != "4 3 2 1 0 1 0 "+list {
			t.Errorf("row %q, want counts 4 3 2 1 0 1 0", lines[1])
		}
		if strings.Index(lines[0], "records")+len("records") != strings.Index(lines[1], "4")+1 {
			t.Errorf("columns not right-aligned:\n%s", out)
		}
	})
	t.Run("options reach the parser", func(t *testing.T) {
		t.Parallel()
		_, out, _ := runCheck(t, "-format", "ipsum", "-min-count", "3", "-json", ipsum)
		if got := decodeJSONLines(t, out); len(got) != 1 || got[0].Records != 1 || got[0].Skipped != 1 {
			t.Errorf("ipsum -min-count 3: %+v, want 1 record, 1 skipped", got)
		}
		_, out, _ = runCheck(t, "-format", "csv", "-cidr-column", "range", "-json", csvFile)
		if got := decodeJSONLines(t, out); len(got) != 1 || got[0].Records != 1 || got[0].Invalid != 0 {
			t.Errorf("csv -cidr-column range: %+v, want 1 record", got)
		}
	})
	t.Run("bad lines capped", func(t *testing.T) {
		t.Parallel()
		many := writeFile(t, t.TempDir(), "many.txt", strings.Repeat("x\n", 25))
		code, _, errOut := runCheck(t, "-format", "ip-list", many)
		if code != exitOK {
			t.Errorf("exit %d, want 0: bad lines alone are not a failure", code)
		}
		if n := strings.Count(errOut, many+":"); n != 11 || !strings.Contains(errOut, "15 more bad lines") {
			t.Errorf("stderr shows %d lines naming the file, want 10 bad lines and a summary:\n%s", n, errOut)
		}
		code, _, _ = runCheck(t, "-format", "ip-list", "-max-bad-lines", "24", many)
		if code != exitRuntime {
			t.Errorf("-max-bad-lines 24 with 25 bad lines: exit %d, want 1", code)
		}
		code, _, _ = runCheck(t, "-format", "ip-list", "-max-bad-lines", "25", many)
		if code != exitOK {
			t.Errorf("-max-bad-lines 25 with 25 bad lines: exit %d, want 0", code)
		}
	})
	t.Run("unreadable files", func(t *testing.T) {
		t.Parallel()
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := zw.Write(bytes.Repeat([]byte("192.0.2.1\n"), 5000)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		broken := writeFile(t, t.TempDir(), "cut.txt.gz", gz.String()[:gz.Len()/2])
		missing := filepath.Join(dir, "missing.txt")
		code, out, errOut := runCheck(t, "-format", "ip-list", "-json", missing, broken, list)
		if code != exitRuntime {
			t.Errorf("exit %d, want 1", code)
		}
		got := decodeJSONLines(t, out)
		if len(got) != 3 || got[0].Error == "" || got[1].Error == "" || got[2].Error != "" || got[2].Records != 4 {
			t.Errorf("objects %+v: want errors for the missing and the broken file and counts for the good one", got)
		}
		if !strings.Contains(errOut, "missing.txt") || !strings.Contains(errOut, "cut.txt.gz: gzip: unexpected EOF") || strings.Contains(errOut, "cut.txt.gz:1") {
			t.Errorf("stderr %q does not name both failures, or shows the cut line as a bad line", errOut)
		}
	})
	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"-format", "nope", list},
			{list},
			{"-format", "ip-list"},
			{"-format", "ipsum", "-min-count", "-1", ipsum},
			{"-format", "ip-list", "-no-such-flag", list},
			{"-format", "ip-list", "-min-count", "3", list},
			{"-format", "ipsum", "-cidr-column", "0", ipsum},
			{"-format", "ip-list", "-json-keys", "ip_prefix", list},
		} {
			if code, _, errOut := runCheck(t, args...); code != exitUsage || !strings.Contains(errOut, "usage:") {
				t.Errorf("feeds check %q: exit %d, stderr %q; want 2 with usage", args, code, errOut)
			}
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"feeds", "-format", "ip-list", list}, nil, &out, &errOut); code != exitUsage {
			t.Errorf("feeds without check: exit %d, want 2", code)
		}
		if code, out, _ := runCheck(t, "-h"); code != exitOK || !strings.Contains(out, "Exit status") {
			t.Errorf("feeds check -h: exit %d, output %q; want 0 and the long help", code, out)
		}
	})
	t.Run("every registered format is accepted", func(t *testing.T) {
		t.Parallel()
		for _, f := range feeds.Formats() {
			code, _, errOut := runCheck(t, "-format", string(f), filepath.Join(dir, "missing"))
			if code != exitRuntime {
				t.Errorf("format %s on a missing file: exit %d (%s), want 1", f, code, errOut)
			}
		}
	})
}

// TestFeedsCheckCorpus runs the command over real files and compares its
// counts with the MANIFEST figures, confirmed by grep, awk and python3's
// ipaddress.summarize_address_range (ipcat's 3,429 ranges split into
// 4,405 prefixes; drop_v4.json lists 62.60.226.0/24 twice).
func TestFeedsCheckCorpus(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedFeeds(t)
	for _, tc := range []struct {
		format, file string
		args         []string
		want         feedCounts
	}{
		{"ip-list", "tor/secops-tor-nodes_2024-02-27.lst", nil, feedCounts{Records: 8054, Prefixes: 8054, IPv4: 5631, IPv6: 2423}},
		{"ip-list", "vpn/x4bnet-input-vpn-ips-Manual_2026-08-22.txt", nil, feedCounts{}},
		{"spamhaus-drop", "abuse/spamhaus-drop_v4_2026-07-23.json", nil, feedCounts{Records: 1670, Prefixes: 1669, IPv4: 1669}},
		{"spamhaus-drop", "abuse/spamhaus-dropv6_2025-01-15.txt", nil, feedCounts{Records: 78, Prefixes: 78, IPv6: 78}},
		{"ipsum", "abuse/ipsum_2026-08-22.txt", []string{"-min-count", "3"}, feedCounts{Records: 14217, Prefixes: 14217, IPv4: 14217, Skipped: 106213}},
		{"csv", "asn/ipcat-datacenters_2019-02-20.csv", nil, feedCounts{Records: 3429, Prefixes: 4405, IPv4: 4405}},
		{"csv", "asn/jhassine-datacenters_2026-08-22.csv", nil, feedCounts{Records: 52756, Prefixes: 52756, IPv4: 52756}},
		{"ipverse-json", "vpn/ipverse-as208172-aggregated.json", nil, feedCounts{Records: 6, Prefixes: 6, IPv4: 6, ASNs: 1}},
		// AWS lists a prefix once per service: 13,344 rows, 9,066 distinct.
		{"json", "cloud/aws-ip-ranges_2025-07-24.json", nil, feedCounts{Records: 13344, Prefixes: 9066, IPv4: 6850, IPv6: 2216}},
		{"json", "cloud/aws-ip-ranges_2025-07-24.json", []string{"-json-keys", "ip_prefix, ipv6_prefix"}, feedCounts{Records: 13344, Prefixes: 9066, IPv4: 6850, IPv6: 2216}},
		{"json", "cloud/aws-ip-ranges_2025-07-24.json", []string{"-json-keys", "ip_prefix"}, feedCounts{Records: 8971, Prefixes: 6850, IPv4: 6850}},
		// monosans: the exit addresses, 449 distinct among 492 proxies.
		{"json", "proxy/monosans-proxies_2026-08-22.json", []string{"-json-keys", "exit_ip"}, feedCounts{Records: 492, Prefixes: 449, IPv4: 449}},
		{"json", "crawler/google-common-crawlers_2026-08-21.json", nil, feedCounts{Records: 315, Prefixes: 315, IPv4: 169, IPv6: 146}},
		{"proxy-list", "proxy/monosans-proxies-all_2026-08-22.txt", nil, feedCounts{Records: 492, Prefixes: 456, IPv4: 456}},
		// Avastel: the header row is the one bad line.
		{"proxy-list", "proxy/avastel-proxy-bot-ips-blocklist-5days_2026-08-22.txt", nil, feedCounts{Records: 300, Prefixes: 300, IPv4: 300, Invalid: 1}},
		// gluetun: 13,056 servers, 3 of them with "ips": [""].
		{"vpn-servers", "vpn/gluetun-servers_2023-04-20.json", nil, feedCounts{Records: 13053, Prefixes: 18506, IPv4: 17133, IPv6: 1373, Skipped: 3}},
		// potaroo: 120,835 rows less 4,092 "-Reserved AS-", 1,023
		// "-Private Use AS-" and 5 nameless ones.
		{"asn-names", "asn/potaroo-autnums_2026-01-20.txt", nil, feedCounts{Records: 115715, ASNs: 115715, Skipped: 5120}},
		{"geofeed", "cloud/linode-geofeed_2025-07-24.csv", nil, feedCounts{Records: 4552, Prefixes: 4552, IPv4: 4464, IPv6: 88}},
	} {
		path := filepath.Join(dir, tc.file)
		args := append([]string{"-format", tc.format, "-json"}, tc.args...)
		code, out, errOut := runCheck(t, append(args, path)...)
		tc.want.File, tc.want.Format = path, tc.format
		if got := decodeJSONLines(t, out); code != exitOK || len(got) != 1 || got[0] != tc.want {
			t.Errorf("feeds check %s: exit %d, %+v; want 0, %+v (stderr %s)", tc.file, code, got, tc.want, errOut)
		}
	}
}

// TestFeedsCheckNotFeed checks that a body that is not the feed fails the
// file, with the reason on stderr and in the JSON error.
func TestFeedsCheckNotFeed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ format, name, body, reason string }{
		{"ip-list", "page.txt", "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n</html>\r\n", "HTML"},
		{"geofeed", "empty.csv", "", "empty body"},
		{"json", "error.json", `{"message": "rate limited", "code": 429}`, "no address"},
	} {
		path := writeFile(t, dir, tc.name, tc.body)
		code, out, errOut := runCheck(t, "-format", tc.format, "-json", path)
		got := decodeJSONLines(t, out)
		if code != exitRuntime || len(got) != 1 || !strings.Contains(got[0].Error, "not the feed") || !strings.Contains(errOut, tc.reason) {
			t.Errorf("feeds check -format %s %s: exit %d, %+v, stderr %q; want 1 and an error saying %q", tc.format, tc.name, code, got, errOut, tc.reason)
		}
	}
}
