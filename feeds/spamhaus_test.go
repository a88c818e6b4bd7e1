package feeds

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
)

func TestParseSpamhausDrop(t *testing.T) {
	t.Parallel()
	runLineCases(t, FormatSpamhausDrop, []lineCase{
		{
			name: "text drop", records: 2,
			in: "; Spamhaus DROP List 2025/01/17 - (c) 2025 The Spamhaus Project SLU\n" +
				"; Last-Modified: Fri, 17 Jan 2025 17:03:47 GMT\n" +
				"1.10.16.0/20 ; SBL256894\n" +
				"2001:678:6c4::/48 ; SBL626637\n" +
				"; EOF\n",
			want: []string{"3 1.10.16.0/20", "4 2001:678:6c4::/48"},
		},
		{
			name: "empty edrop after the merge", records: 0,
			in: "; This list has been merged into https://www.spamhaus.org/drop/drop.txt\n" +
				"; Spamhaus EDROP List 2024/10/18 - (c) 2024 The Spamhaus Project SLU\n; EOF\n",
		},
		{
			name: "ndjson with metadata", records: 2,
			in: `{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}` + "\n" +
				`{"cidr":"2.26.75.77/24","sblid":"SBL698389","rir":"ripencc"}` + "\n" +
				`{"type":"metadata","timestamp":1784798042,"size":101866,"records":2}`,
			want: []string{"1 1.10.16.0/20", "2 2.26.75.0/24"},
		},
		{
			name: "crlf, no trailing newline, mapped", records: 2,
			in:   "::ffff:192.0.2.0/120 ; SBL1\r\n  {\"cidr\":\"2001:0db8:0000::/32\"}  \r\n",
			want: []string{"1 192.0.2.0/24", "2 2001:db8::/32"},
		},
		{
			name: "garbage", records: 1,
			in: strings.Join([]string{
				`{"cidr":"1.2.3.0/24"`,         // 1: truncated JSON
				`{"sblid":"SBL1"}`,             // 2: no cidr
				`{"cidr":12}`,                  // 3: cidr not a string
				`{"cidr":"not a net"}`,         // 4: bad cidr
				`SBL123 ; 1.2.3.0/24`,          // 5: fields swapped
				`192.0.2.0/24 SBL1`,            // 6: id without ';'
				`198.51.100.0/24 ; SBL2`,       // 7: fine
				`{"cidr":null}`,                // 8: null cidr
				`{"type":"metadata","cidr":1}`, // 9: metadata is never a record or invalid
			}, "\n"),
			want:    []string{"7 198.51.100.0/24"},
			invalid: []int{1, 2, 3, 4, 5, 6, 8},
		},
	})
}

// spamhausManifest: lines not starting with ';' and not the metadata
// record (grep -v '^;' | grep -v '"type":"metadata"' | grep -c .).
var spamhausManifest = map[string]corpusCounts{
	"spamhaus-drop_2025-01-17.txt":               {1385, 0},
	"spamhaus-drop_v4_2026-07-23.json":           {1670, 0},
	"spamhaus-dropv6_2025-01-15.txt":             {78, 78},
	"spamhaus-edrop-merged-empty_2024-10-18.txt": {0, 0},
	"spamhaus-edrop_2023-12-01.txt":              {289, 0},
}

// TestCorpusSpamhausDrop parses every Spamhaus DROP/EDROP/DROPv6 file,
// text and JSON, and compares it with the reference.
func TestCorpusSpamhausDrop(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedFeeds(t)
	for _, file := range corpusFiles(t, dir, "abuse/spamhaus-drop*", "abuse/spamhaus-edrop*") {
		text := readCorpus(t, file)
		got := parseText(text, Options{Format: FormatSpamhausDrop, Source: file})
		if len(got.fatal) != 0 || len(got.lineErrs) != 0 {
			t.Errorf("%s: %v %v", file, got.fatal, got.lineErrs)
		}
		compareRef(t, filepath.Base(file), got, refSpamhaus(text), true)
		checkManifest(t, spamhausManifest, file, got)
	}
}
