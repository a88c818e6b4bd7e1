package feeds

import (
	"encoding/csv"
	"net/netip"
	"strings"
	"testing"
)

func TestParseGeofeed(t *testing.T) {
	t.Parallel()
	runLineCases(t, FormatGeofeed, []lineCase{
		{
			name:    "DigitalOcean: no header, postal codes with spaces and leading zeros",
			in:      "5.101.96.0/21,NL,NL-NH,Amsterdam,1098 XH\n24.144.64.0/22,US,US-NJ,North Bergen,07047\n2a03:b0c0:3::/48,DE,DE-HE,Frankfurt,60341",
			want:    []string{"1 5.101.96.0/21", "2 24.144.64.0/22", "3 2a03:b0c0:3::/48"},
			records: 3,
		},
		{
			name:    "Linode: comments, empty postal code",
			in:      "# Linode geofeed\n# Last modified: 2025-07-24 10:00:06.525037\n#\n2600:3c00::/32,US,US-TX,Richardson,\n",
			want:    []string{"4 2600:3c00::/32"},
			records: 1,
		},
		{
			name:    "extra columns, quotes, spaces, CRLF, single address, host bits, mapped",
			in:      "192.0.2.0/24,US,US-CA,San Jose,95134,extra,columns\r\n\"198.51.100.0/24\",GB,,,\r\n  203.0.113.7 ,JP,,,\r\n10.1.2.3/8,,,,\r\n::ffff:192.0.2.128/121,,,,\r\n203.0.113.8\r\n",
			want:    []string{"1 192.0.2.0/24", "2 198.51.100.0/24", "3 203.0.113.7/32", "4 10.0.0.0/8", "5 192.0.2.128/25", "6 203.0.113.8/32"},
			records: 6,
		},
		{
			name:    "header row and bad prefixes are bad lines",
			in:      "ip_prefix,alpha2code,region,city,postal_code\n192.0.2.0/33,US,,,\n192.0.2.0-192.0.2.9,US,,,\n,US,,,\n198.51.100.0/24,US,,,\n",
			want:    []string{"5 198.51.100.0/24"},
			invalid: []int{1, 2, 3, 4},
			records: 1,
		},
		{name: "empty body is not a feed", in: "\n", notFeed: true},
	})
}

// refGeofeed reads a geofeed with encoding/csv (comments and ragged rows
// allowed) and net/netip.
func refGeofeed(t *testing.T, data []byte) tiCounts {
	r := csv.NewReader(strings.NewReader(string(data)))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	var c tiCounts
	pfxs := map[netip.Prefix]bool{}
	for _, row := range rows {
		p, err := netip.ParsePrefix(strings.TrimSpace(row[0]))
		if err != nil {
			c.Invalid++
			continue
		}
		c.Records++
		pfxs[p.Masked()] = true
	}
	return tiPrefixCounts(c, pfxs)
}

// TestCorpusGeofeed compares the DigitalOcean and Linode geofeeds with the
// reference and with the feed corpus's manifest: 1,182 rows (1,037 IPv4, 145 IPv6) and
// 4,552 rows (4,464 IPv4, 88 IPv6), all distinct.
func TestCorpusGeofeed(t *testing.T) {
	t.Parallel()
	files := tiShared(t, "cloud/*-geofeed_*.csv")
	tiCorpus(t, FormatGeofeed, files, refGeofeed, map[string]tiCounts{
		"digitalocean-geofeed_2025-07-22.csv": {Records: 1182, Prefixes: 1182, IPv4: 1037, IPv6: 145},
		"linode-geofeed_2025-07-24.csv":       {Records: 4552, Prefixes: 4552, IPv4: 4464, IPv6: 88},
	})
}

func FuzzParseGeofeed(f *testing.F) {
	tiSeeds(f, "geofeed-*")                                                // real excerpts: DigitalOcean (no header), Linode (comments, empty postal code)
	f.Add([]byte("\"::ffff:1.2.3.4/128\",,\n\"\",\n\",\n1.2.3.4/33,US\n")) // quotes, mapped, bad length
	f.Add([]byte("  # indented comment\r\n,,,,\n\t\n"))                    // comment, empty first column
	f.Fuzz(func(t *testing.T, data []byte) {
		got := parseText(string(data), Options{Format: FormatGeofeed})
		checkInvariants(t, data, got, true, false)
		tiRoundTrip(t, got.entries)
	})
}
