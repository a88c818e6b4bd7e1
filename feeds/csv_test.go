package feeds

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
)

func TestParseCSV(t *testing.T) {
	t.Parallel()
	runLineCases(t, FormatCSV, []lineCase{
		{
			name: "ipcat start,end without header", records: 3,
			in: "3.0.0.0,3.1.255.255,Amazon AWS,http://www.amazon.com/aws/\n" +
				"64.5.32.0,64.5.63.255,\"ThePlanet.com Internet Services, Inc.\",http://theplanet.com\n" +
				"5.10.64.0,5.10.64.2,x,y\n",
			want: []string{"1 3.0.0.0/15", "2 64.5.32.0/19", "3 5.10.64.0/31", "3 5.10.64.2/32"},
		},
		{
			name: "jhassine quoted with cidr header", records: 2,
			in: `"cidr","hostmin","hostmax","vendor"` + "\n" +
				`"1.178.1.0/24","1.178.1.0","1.178.1.255","AWS"` + "\n" +
				`"2001:db8::1/32","x","y","Azure"`,
			want: []string{"2 1.178.1.0/24", "3 2001:db8::/32"},
		},
		{
			name: "header by name, any column, byte order mark", records: 1,
			in:   "\ufeffvendor,Network\r\nAWS,192.0.2.0/24\r\n",
			want: []string{"2 192.0.2.0/24"},
		},
		{
			name: "start,end header", records: 1,
			in:   "start,end,name\n192.0.2.0,192.0.2.127,x\n",
			want: []string{"2 192.0.2.0/25"},
		},
		{
			name: "cidr column by index", records: 2,
			opts: Options{CIDRColumn: "1"},
			in:   "# comment\nfoo,192.0.2.0/24\n\nbar,198.51.100.1\n",
			want: []string{"2 192.0.2.0/24", "4 198.51.100.1/32"},
		},
		{
			name: "start and end columns by name", records: 1,
			opts: Options{StartColumn: "FROM", EndColumn: "to"},
			in:   "name,from,to\nx,192.0.2.4,192.0.2.7\n",
			want: []string{"2 192.0.2.4/30"},
		},
		{
			name: "start column alone holds a network", records: 1,
			opts: Options{StartColumn: "2"},
			in:   "a,b,192.0.2.0/24\n",
			want: []string{"1 192.0.2.0/24"},
		},
		{
			name: "headerless cidr,name", records: 2,
			in:   "192.0.2.0/24,Example Cloud\n2001:db8::/32,\"Example, Inc.\"\n",
			want: []string{"1 192.0.2.0/24", "2 2001:db8::/32"},
		},
		{
			name: "header synonym", records: 1,
			in:   "region,ip_prefix\neu,192.0.2.0/24\n",
			want: []string{"2 192.0.2.0/24"},
		},
		{
			name: "range with empty end reads the start", records: 1,
			in:   "192.0.2.0/28,,x\n",
			want: []string{"1 192.0.2.0/28"},
		},
		{
			name: "doubled quotes and text after quote", records: 2,
			in:   `"192.0.2.1","192.0.2.1","say ""hi""" x` + "\n" + `192.0.2.2 , "192.0.2.3" ,z`,
			want: []string{"1 192.0.2.1/32", "2 192.0.2.2/31"},
		},
		{
			name: "garbage", records: 1,
			in: strings.Join([]string{
				"start,end",                // 1: header: not invalid
				`"192.0.2.0,192.0.2.255,x`, // 2: unterminated quote
				"192.0.2.0",                // 3: a single column is read whole: fine
				"192.0.2.9,192.0.2.1",      // 4: reversed
				"192.0.2.1,2001:db8::1",    // 5: mixed families
				"1.2.3,x",                  // 6: bad start
				"192.0.2.1,1.2.3",          // 7: bad end
				`continued",192.0.2.1,x`,   // 8: no multi-line fields: a bare word
			}, "\n"),
			want:    []string{"3 192.0.2.0/32"},
			invalid: []int{2, 4, 5, 6, 7, 8},
		},
		{
			name: "bad first row that is not a header", records: 0,
			in:      "1.2.3,4\n",
			invalid: []int{1},
		},
	})
}

func TestParseCSVOptionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"both modes", Options{CIDRColumn: "0", StartColumn: "1"}},
		{"end without start", Options{EndColumn: "1"}},
		{"unknown header name", Options{CIDRColumn: "subnet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Format = FormatCSV
			got := parseText("cidr,x\n192.0.2.0/24,y\n", tc.opts)
			if len(got.fatal) == 0 {
				t.Errorf("Parse(%+v): no error", tc.opts)
			}
		})
	}
}

func TestSplitCSV(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: []string{""}},
		{in: "a,b", want: []string{"a", "b"}},
		{in: " a , b ,", want: []string{"a", "b", ""}},
		{in: `"a,b",c`, want: []string{"a,b", "c"}},
		{in: `"a""b"`, want: []string{`a"b`}},
		{in: `51447, "RootLayer Web Services Ltd, NL"`, want: []string{"51447", "RootLayer Web Services Ltd, NL"}},
		{in: `"x" y,z`, want: []string{"x y", "z"}},
		{in: `a"b,c`, want: []string{`a"b`, "c"}},
		{in: `"abc`, err: true},
		{in: `"a""`, err: true},
	} {
		got, err := splitCSV(nil, []byte(tc.in))
		if (err != nil) != tc.err || (!tc.err && !slices.Equal(got, tc.want)) {
			t.Errorf("splitCSV(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// csvManifest: data rows by wc -l (ipcat: 3429, no header) and
// tail -n +2 | wc -l (jhassine: 52756); no IPv6 in either (grep -c :).
var csvManifest = map[string]corpusCounts{
	"ipcat-datacenters_2019-02-20.csv":    {3429, 0},
	"jhassine-datacenters_2026-08-22.csv": {52756, 0},
}

// TestCorpusCSV parses the ipcat and jhassine files and compares them
// with a reference built on encoding/csv and bit-by-bit range splitting.
func TestCorpusCSV(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedFeeds(t)
	for _, file := range corpusFiles(t, dir, "asn/ipcat-*.csv", "asn/jhassine-*.csv") {
		text := readCorpus(t, file)
		got := parseText(text, Options{Format: FormatCSV, Source: file})
		if len(got.fatal) != 0 || len(got.lineErrs) != 0 {
			t.Errorf("%s: %v %v", file, got.fatal, got.lineErrs)
		}
		compareRef(t, filepath.Base(file), got, refCSVFile(t, text), true)
		checkManifest(t, csvManifest, file, got)
	}
}
