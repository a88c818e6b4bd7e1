package feeds

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseASNNames(t *testing.T) {
	t.Parallel()
	tiRun(t, FormatASNNames, []tiCase{
		{
			name: "potaroo autnums, tab-separated",
			in:   "0\t-Reserved AS-, ZZ\n1\tLVLT-1, US\n224\tUNINETT UNINETT, The Norwegian University & Research Network, NO\n64512\t-Private Use AS-, ZZ\n402332\tAS-, ZZ\n",
			want: []string{
				`2 AS1 "LVLT-1"`,
				`3 AS224 "UNINETT UNINETT, The Norwegian University & Research Network"`,
				`5 AS402332 "AS-"`,
			},
			records: 3, skipped: 2,
		},
		{
			name: "RIPE asn.txt, one space, CRLF, AS prefix",
			in:   "3333 RIPE-NCC-AS Reseaux IP Europeens Network Coordination Centre (RIPE NCC), NL\r\nAS13335  CLOUDFLARENET, US\r\nas7 DSTL, EU",
			want: []string{
				`1 AS3333 "RIPE-NCC-AS Reseaux IP Europeens Network Coordination Centre (RIPE NCC)"`,
				`2 AS13335 "CLOUDFLARENET"`,
				`3 AS7 "DSTL"`,
			},
			records: 3,
		},
		{
			name:    "no country, or a tail that is not a country",
			in:      "10 NO-COUNTRY\n11 A, B, usa\n12 X, 1A\n13 Y,\n14 Z, GB \n15\t, TR\n16 - CONECTMAIS -, BR\n17 -Reserved AS-, US\n",
			want:    []string{`1 AS10 "NO-COUNTRY"`, `2 AS11 "A, B, usa"`, `3 AS12 "X, 1A"`, `4 AS13 "Y,"`, `5 AS14 "Z"`, `7 AS16 "- CONECTMAIS -"`, `8 AS17 "-Reserved AS-"`},
			records: 7, skipped: 1,
		},
		{
			name: "Latin-1 bytes, UTF-8 kept",
			in:   "27817 Red Universitaria Nacional Administraci\xf3n, CL\n28000 LACNIC - Latin American and Caribbean IP address Regional Registry \xe2\x80\x94 Montevideo, UY\n",
			want: []string{
				`1 AS27817 "Red Universitaria Nacional Administración"`,
				`2 AS28000 "LACNIC - Latin American and Caribbean IP address Regional Registry — Montevideo"`,
			},
			records: 2,
		},
		{
			name:    "comments, blank lines, garbage",
			in:      "# autnums\n\n   \nASN NAME\n4294967296 TOO-BIG, US\n42\nAS, US\n5 OK, US\n",
			want:    []string{`8 AS5 "OK"`},
			records: 1,
			bad:     []int{4, 5, 6, 7},
		},
		{name: "empty body is not a feed", in: "", fatal: true},
		{name: "HTML page is not a feed", in: "<html>\n<a href=\"/cgi-bin/as-report?as=AS0\">AS0</a> -Reserved AS-, ZZ\n</html>\n", fatal: true},
	})
}

// refASNNames splits each line with strings.Fields and strings.Split.
func refASNNames(t *testing.T, data []byte) tiCounts {
	var c tiCounts
	asns := map[uint64]bool{}
	for _, line := range refLines(string(data)) {
		if !utf8.ValidString(line) {
			t.Fatalf("reference: line %q is not UTF-8", line)
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		asn, err := strconv.ParseUint(strings.TrimPrefix(f[0], "AS"), 10, 32)
		if err != nil || len(f) < 2 {
			c.Invalid++
			continue
		}
		parts := strings.Split(strings.Join(f[1:], " "), ",")
		name := strings.TrimSpace(strings.Join(parts[:len(parts)-1], ","))
		if cc := strings.TrimSpace(parts[len(parts)-1]); len(parts) == 1 || len(cc) != 2 || strings.ToUpper(cc) != cc {
			name = strings.Join(parts, ",")
		}
		country := strings.TrimSpace(parts[len(parts)-1])
		if asn == 0 || name == "" || country == "ZZ" && strings.HasPrefix(name, "-") && strings.HasSuffix(name, "-") {
			c.Skipped++
			continue
		}
		c.Records++
		asns[asn] = true
	}
	c.ASNs = len(asns)
	return c
}

// TestCorpusASNNames compares potaroo's autnums with the reference.
// The feed corpus's manifest counts 120,835 rows and as many distinct ASNs; grep counts
// 4,092 "-Reserved AS-, ZZ" rows (AS 0 among them), 1,023
// "-Private Use AS-, ZZ" rows and 5 rows with no name (", TR"), which are
// skipped; "- CONECTMAIS -, BR" and "- PPNETWORK -, IT" are real holders.
func TestCorpusASNNames(t *testing.T) {
	t.Parallel()
	files := tiShared(t, "asn/potaroo-autnums_*.txt")
	tiCorpus(t, FormatASNNames, files, refASNNames, map[string]tiCounts{
		"potaroo-autnums_2026-01-20.txt": {Records: 120835 - 4092 - 1023 - 5, ASNs: 120835 - 4092 - 1023 - 5, Skipped: 4092 + 1023 + 5},
	})
}

func FuzzParseASNNames(f *testing.F) {
	tiSeeds(f, "asnnames-*")                                      // real excerpt: potaroo autnums (placeholders, names with commas, 32-bit ASNs)
	f.Add([]byte("3333 RIPE-NCC-AS R\xe9seaux, NL\r\nAS1 X, \n")) // RIPE form, Latin-1, CRLF
	f.Add([]byte("\xff\xfe1\t\x80, ZZ\n-1 A\nAS 1 B\n1\t\t,\n"))  // bytes that are neither
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatASNNames, data)
		entries, _, _ := tiParse(FormatASNNames, data)
		for _, e := range entries {
			if !utf8.ValidString(e.Org) || e.Org == "" {
				t.Fatalf("entry %+v: Org empty or not UTF-8", e)
			}
		}
	})
}
