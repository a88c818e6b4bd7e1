package feeds

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestParseASNList(t *testing.T) {
	t.Parallel()
	tiRun(t, FormatASNList, []tiCase{
		{
			name: "X4BNet",
			in: "AS45090 # Tencent cloud computing, they dont really monitor their network\n" +
				"AS55286\t# SERVER-MANIA, CA\n" +
				"AS52321 # Fideicomiso de Administración Datacenter Capitalinas\n" +
				"AS9009\n" +
				"64496\n" +
				"as64497 #\n" +
				"# a comment line\n\n" +
				"AS45090 # listed twice\n",
			want: []string{
				`1 AS45090 "Tencent cloud computing, they dont really monitor their network"`,
				`2 AS55286 "SERVER-MANIA, CA"`,
				`3 AS52321 "Fideicomiso de Administración Datacenter Capitalinas"`,
				`4 AS9009`, `5 AS64496`, `6 AS64497`,
				`9 AS45090 "listed twice"`,
			},
			records: 7,
		},
		{
			name: "bad-asn-list CSV quirks",
			in: "ASN,Entity\n" +
				`198375,"INULOGIC SARL, FR"` + "\n" +
				`51447, "RootLayer Web Services Ltd, NL"` + "\n" + // space before the quote
				`"20248","Take 2 Hosting, Inc."` + "\n" + // quoted number
				`15497,"COLOCALL Internet Data Center ""ColoCALL"", UA"` + "\n" + // doubled quotes
				`"48031","PE Ivanov Vitaliy Sergeevich - xserver.ua" ` + "\n" + // space after the quote
				`"212238","DataCamp Limited"` + "\n" +
				`64496,"Company #1; the best"` + "\n" + // comment characters inside the entity
				`64497,` + "\n", // no entity
			want: []string{
				`2 AS198375 "INULOGIC SARL, FR"`,
				`3 AS51447 "RootLayer Web Services Ltd, NL"`,
				`4 AS20248 "Take 2 Hosting, Inc."`,
				`5 AS15497 "COLOCALL Internet Data Center \"ColoCALL\", UA"`,
				`6 AS48031 "PE Ivanov Vitaliy Sergeevich - xserver.ua"`,
				`7 AS212238 "DataCamp Limited"`,
				`8 AS64496 "Company #1; the best"`,
				`9 AS64497`,
			},
			records: 8,
		},
		{
			name: "Spamhaus ASN-DROP NDJSON",
			in: `{"asn":932,"rir":"arin","domain":"xn.net","cc":"US","asname":"XNNET"}` + "\n" +
				`{"asn":"AS6060","asname":"MAGI-NET-GW"}` + "\n" +
				`{"asn":"64496"}` + "\n" +
				`{"type":"metadata","timestamp":1709006105,"size":17905,"records":201}` + "\n",
			want:    []string{`1 AS932 "XNNET"`, `2 AS6060 "MAGI-NET-GW"`, `3 AS64496`},
			records: 3,
		},
		{
			name:    "Spamhaus text form and BOM, CRLF",
			in:      "\xef\xbb\xbf; Spamhaus ASN-DROP List\r\nAS174 ; US | COGENT-174\r\n",
			want:    []string{`2 AS174 "US | COGENT-174"`},
			records: 1,
		},
		{
			name: "garbage",
			in: "AS1 AS2\n" + // two fields
				"ASX\n" +
				"AS0 # reserved\n" +
				"4294967296\n" +
				"ASN,Entity\n" + // a header after data is not a header
				`{"asn":1.5}` + "\n" +
				`{"asn":null}` + "\n" +
				`{"rir":"arin"}` + "\n" + // no asn, not metadata
				`{"asn":` + "\n" + // truncated JSON
				`"x",y` + "\n" +
				"AS4294967295\n",
			want:    []string{`11 AS4294967295`},
			records: 1,
			bad:     []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		},
		{
			name: "header only when first",
			in:   "asn,name\n",
		},
		{
			name:    "truncated last line",
			in:      "AS1 # one\nAS2 # tw",
			want:    []string{`1 AS1 "one"`, `2 AS2 "tw"`},
			records: 2,
		},
	})
}

var (
	refCSVRow = regexp.MustCompile(`^\s*"?(\d+)"?\s*,`)
	refX4BRow = regexp.MustCompile(`^AS(\d+)\s*(#.*)?$`)
)

// refASNList recognises each family with a regular expression (or
// encoding/json for NDJSON) over whole lines.
func refASNList(t *testing.T, data []byte) tiCounts {
	var c tiCounts
	asns := map[uint64]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		var num string
		switch {
		case line == "" || line == "ASN,Entity" && n == 1:
			continue
		case strings.HasPrefix(line, "{"):
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("reference: %q: %v", line, err)
			}
			if m["type"] == "metadata" {
				continue
			}
			num = strconv.FormatFloat(m["asn"].(float64), 'f', -1, 64)
		case refCSVRow.MatchString(line):
			num = refCSVRow.FindStringSubmatch(line)[1]
		case refX4BRow.MatchString(line):
			num = refX4BRow.FindStringSubmatch(line)[1]
		default:
			t.Fatalf("reference: line %d %q matches no family", n, line)
		}
		asn, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			t.Fatalf("reference: %q: %v", line, err)
		}
		c.Records++
		asns[asn] = true
	}
	c.ASNs = len(asns)
	return c
}

func TestCorpusASNList(t *testing.T) {
	t.Parallel()
	// Verified with grep/cut/sort | uniq -d: bad-asn-list has 742 rows and
	// 19 ASNs listed twice (as the feed corpus's manifest says); X4BNet's datacenter list
	// has 906 lines and 14 ASNs listed twice (the feed corpus's manifest names only 3,
	// missing the lines whose comment follows a tab); Spamhaus ASN-DROP has
	// 201 ASNs and a metadata line.
	pinned := map[string]tiCounts{
		"bad-asn-list_2026-03-16.csv":                {Records: 742, ASNs: 723},
		"x4bnet-input-datacenter-ASN_2026-08-22.txt": {Records: 906, ASNs: 892},
		"x4bnet-input-vpn-ASN_2026-08-22.txt":        {Records: 15, ASNs: 15},
		"spamhaus-asndrop_2024-02-27.json":           {Records: 201, ASNs: 201},
	}
	files := tiShared(t, "asn/bad-asn-list*.csv", "vpn/x4bnet-input-*ASN*.txt", "abuse/spamhaus-asndrop*.json")
	tiCorpus(t, FormatASNList, files, refASNList, pinned)
}

func FuzzParseASNList(f *testing.F) {
	tiSeeds(f, "asnlist-*")                                                       // real excerpts: bad-asn-list CSV (with its quirky rows), X4BNet, Spamhaus NDJSON
	f.Add([]byte("AS174 ; US | COGENT-174\r\nas1\n"))                             // Spamhaus text form, CRLF
	f.Add([]byte(`{"asn":"AS1"}` + "\n" + `{"asn":[1]}` + "\n" + `{"type":"x"}`)) // odd JSON
	f.Add([]byte("\"\",\"\"\n,\n\"1\"\"\",x"))                                    // degenerate CSV
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatASNList, data)
	})
}
