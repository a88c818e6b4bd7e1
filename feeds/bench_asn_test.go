package feeds_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/testenv"
)

// asnBenchFiles are the largest real files of the Tor and ASN formats,
// relative to the shared feed corpus. A gzipped file is benchmarked twice:
// as published (gunzip included in the time) and decompressed in memory
// first (parsing alone, SetBytes on the decompressed size).
var asnBenchFiles = []struct {
	format feeds.Format
	file   string
}{
	{feeds.FormatIP2ASN, "asn/ip2asn-v6_2023-12-08.tsv.gz"},
	{feeds.FormatPyASN, "asn/pyasn-ipasn_2014-05-13.dat.gz"},
	{feeds.FormatTorConsensus, "tor/consensus_2022-11-19-1000.txt"},
	{feeds.FormatTorConsensus, "tor/consensus-microdesc_2022-11-19-1000.txt"},
	{feeds.FormatTorExitAddresses, "tor/tor-exit-addresses_2024-03-12.txt"},
	{feeds.FormatOnionoo, "tor/onionoo-details-running_2026-08-22.json"},
	{feeds.FormatASNList, "vpn/x4bnet-input-datacenter-ASN_2026-08-22.txt"},
	{feeds.FormatASNList, "asn/bad-asn-list_2026-03-16.csv"},
	{feeds.FormatMMDB, "mmdb-testdata/test-data/GeoIP2-ISP-Test.mmdb"},
}

// BenchmarkParseASN measures parse throughput (MB/s of input) and
// allocations on real files read into memory first.
func BenchmarkParseASN(b *testing.B) {
	dir := testenv.SharedFeeds(b)
	for _, bf := range asnBenchFiles {
		raw, err := os.ReadFile(filepath.Join(dir, bf.file))
		if err != nil {
			b.Fatal(err)
		}
		name := string(bf.format) + "/" + filepath.Base(bf.file)
		b.Run(name, func(b *testing.B) { benchParseASN(b, bf.format, raw) })
		if strings.HasSuffix(bf.file, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				b.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(strings.TrimSuffix(name, ".gz"), func(b *testing.B) { benchParseASN(b, bf.format, plain) })
		}
	}
}

func benchParseASN(b *testing.B, f feeds.Format, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	entries := 0
	for b.Loop() {
		entries = 0
		_, err := feeds.Parse(bytes.NewReader(data), feeds.Options{Format: f}, func(feeds.Entry) { entries++ })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(entries), "entries/op")
}
