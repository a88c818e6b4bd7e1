package feeds

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
)

func TestParseIPVerseJSON(t *testing.T) {
	t.Parallel()
	doc := `{
  "asn": 208172,
  "handle": "PV-HOSTED",
  "description": "Proton AG",
  "subnets": {
    "ipv4": [
      "81.27.86.0/24",
      "159.26.96.7/19"
    ],
    "ipv6": ["2a0b:0f4c:0002::/48"]
  }
}`
	for _, tc := range []struct {
		name    string
		in      string
		want    []string // "line prefix asn org"
		invalid int
		fatal   bool
	}{
		{name: "empty body is not a feed", fatal: true},
		{
			name: "aggregated.json without final newline", in: doc,
			want: []string{"7 81.27.86.0/24 208172 Proton AG", "8 159.26.96.0/19 208172 Proton AG", "10 2a0b:f4c:2::/48 208172 Proton AG"},
		},
		{
			name: "asn after subnets, asn as string",
			in:   `{"subnets":{"ipv4":["192.0.2.0/24"]},"asn":"AS64500","description":"x"}` + "\n",
			want: []string{"1 192.0.2.0/24 64500 x"},
		},
		{
			name: "array of documents, extra keys and empty lists",
			in:   `[{"asn":1,"subnets":{"ipv4":[],"ipv6":["2001:db8::/32"]},"x":[1,{"y":2}]},` + "\n" + `{"asn":2,"subnets":{"ipv4":["::ffff:192.0.2.0/120"]}}]`,
			want: []string{"1 2001:db8::/32 1 ", "2 192.0.2.0/24 2 "},
		},
		{
			name: "concatenated documents",
			in:   `{"asn":1,"subnets":{"ipv4":["192.0.2.1"]}}{"asn":2,"subnets":{"ipv4":["192.0.2.2-192.0.2.3"]}}`,
			want: []string{"1 192.0.2.1/32 1 ", "1 192.0.2.2/31 2 "},
		},
		{
			name:    "bad subnets are bad lines",
			in:      `{"asn":1,"subnets":{"ipv4":["nope",7,null,["x"],"192.0.2.0/24"],"ipv6":{"a":1}}}`,
			want:    []string{"1 192.0.2.0/24 1 "},
			invalid: 5,
		},
		{name: "subnets not an object", in: `{"asn":1,"subnets":[1,2]}`, invalid: 1},
		{name: "bad asn", in: `{"asn":-1,"subnets":{"ipv4":["192.0.2.0/24"]}}`, want: []string{"1 192.0.2.0/24 0 "}, invalid: 1},
		{name: "truncated", in: doc[:60], fatal: true},
		{name: "top-level number", in: `42`, fatal: true},
		{name: "array of strings", in: `["192.0.2.0/24"]`, fatal: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := parseText(tc.in, Options{Format: FormatIPVerseJSON})
			if (len(got.fatal) != 0) != tc.fatal {
				t.Errorf("file errors = %v, want error %v", got.fatal, tc.fatal)
			}
			var entries []string
			for _, e := range got.entries {
				entries = append(entries, strconv.Itoa(e.Line)+" "+e.Prefix.String()+" "+strconv.Itoa(int(e.ASN))+" "+e.Org)
			}
			if !tc.fatal && !slices.Equal(entries, tc.want) {
				t.Errorf("entries = %q, want %q", entries, tc.want)
			}
			if got.stats.Invalid != tc.invalid || len(got.lineErrs) != tc.invalid {
				t.Errorf("Invalid = %d (%v), want %d", got.stats.Invalid, got.lineErrs, tc.invalid)
			}
			if !tc.fatal && got.stats.Records != len(tc.want) {
				t.Errorf("Records = %d, want %d", got.stats.Records, len(tc.want))
			}
		})
	}
}

// TestCorpusIPVerseJSON parses every ipverse aggregated.json and compares
// it with encoding/json decoding the whole document. The MANIFEST counts
// (6 IPv4, 0 IPv6 for AS208172) were confirmed with python3's json module.
func TestCorpusIPVerseJSON(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedFeeds(t)
	manifest := map[string]corpusCounts{"ipverse-as208172-aggregated.json": {6, 0}}
	for _, file := range corpusFiles(t, dir, "*/ipverse-*.json") {
		text := readCorpus(t, file)
		got := parseText(text, Options{Format: FormatIPVerseJSON, Source: file})
		if len(got.fatal) != 0 || len(got.lineErrs) != 0 {
			t.Errorf("%s: %v %v", file, got.fatal, got.lineErrs)
		}
		want, asn := refIPVerse(t, text)
		compareRef(t, filepath.Base(file), got, want, false)
		for _, e := range got.entries {
			if e.ASN != asn || e.Line < 1 {
				t.Errorf("%s: entry %+v, want ASN %d and a line", file, e, asn)
			}
		}
		checkManifest(t, manifest, file, got)
	}
}
