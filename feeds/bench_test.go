package feeds_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/testenv"
)

// benchFiles are the largest real files of each line format and of the
// generic JSON formats, relative to the shared feed corpus.
var benchFiles = []struct {
	format feeds.Format
	file   string
}{
	{feeds.FormatIPList, "abuse/abuseipdb-s100-1d_2025-08-09.ipv4"},
	{feeds.FormatIPList, "vpn/x4bnet-datacenter-ipv4_2026-08-22.txt"},
	{feeds.FormatIPList, "abuse/firehol-blocklist_de_2021-01-18.ipset"},
	{feeds.FormatIPList, "vpn/x4bnet-datacenter-ipv6_2026-08-22.txt"},
	{feeds.FormatIPList, "tor/secops-tor-nodes_2024-02-27.lst"},
	{feeds.FormatSpamhausDrop, "abuse/spamhaus-drop_2025-01-17.txt"},
	{feeds.FormatSpamhausDrop, "abuse/spamhaus-drop_v4_2026-07-23.json"},
	{feeds.FormatIPSum, "abuse/ipsum_2026-08-22.txt"},
	{feeds.FormatCSV, "asn/jhassine-datacenters_2026-08-22.csv"},
	{feeds.FormatCSV, "asn/ipcat-datacenters_2019-02-20.csv"},
	{feeds.FormatIPVerseJSON, "vpn/ipverse-as208172-aggregated.json"},
	{feeds.FormatJSON, "cloud/azure-servicetags-public_2025-07-22.json"},
	{feeds.FormatJSON, "cloud/aws-ip-ranges_2025-07-24.json"},
	{feeds.FormatProxyList, "proxy/avastel-proxy-bot-ips-1day_2025-11-22.txt"},
	{feeds.FormatVPNServers, "vpn/gluetun-servers_2023-04-20.json"},
	{feeds.FormatASNNames, "asn/potaroo-autnums_2026-01-20.txt"},
	{feeds.FormatGeofeed, "cloud/linode-geofeed_2025-07-24.csv"},
}

// BenchmarkParse measures parse throughput (MB/s of input) and
// allocations per file on real feeds read into memory first, so that
// only parsing is timed.
func BenchmarkParse(b *testing.B) {
	dir := testenv.SharedFeeds(b)
	for _, bf := range benchFiles {
		data, err := os.ReadFile(filepath.Join(dir, bf.file))
		if err != nil {
			b.Fatal(err)
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		b.Run(string(bf.format)+"/"+filepath.Base(bf.file), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			entries, loops := 0, 0
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				entries = 0
				loops++
				_, err := feeds.Parse(bytes.NewReader(data), feeds.Options{Format: bf.format}, func(feeds.Entry) { entries++ })
				if fileError(err) {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(entries), "entries/op")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(loops*lines), "allocs/line")
		})
	}
}

// fileError reports whether err holds an error other than a bad line: some
// real files have a few (Avastel's header row).
func fileError(err error) bool {
	if err == nil {
		return false
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if _, ok := errors.AsType[*feeds.LineError](e); !ok {
			return true
		}
	}
	return false
}
