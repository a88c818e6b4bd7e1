package feeds

import (
	"strings"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
)

func TestParseIPSum(t *testing.T) {
	t.Parallel()
	header := "# IPsum Threat Intelligence Feed\n# (https://github.com/stamparm/ipsum)\n#\n# IP\tnumber of (black)lists\n#\n"
	runLineCases(t, FormatIPSum, []lineCase{
		{
			name: "default min count keeps all", records: 3,
			in:   header + "77.90.185.20\t10\n1.2.3.4\t3\n5.6.7.8\t1\n",
			want: []string{"6 77.90.185.20/32", "7 1.2.3.4/32", "8 5.6.7.8/32"},
		},
		{
			name: "min count 3 skips", records: 2, skipped: 1,
			opts: Options{MinCount: 3},
			in:   header + "77.90.185.20\t10\n1.2.3.4\t3\n5.6.7.8\t2",
			want: []string{"6 77.90.185.20/32", "7 1.2.3.4/32"},
		},
		{
			name: "count zero is below the default", records: 1, skipped: 1,
			in:   "192.0.2.1\t0\r\n192.0.2.2  4\r\n",
			want: []string{"2 192.0.2.2/32"},
		},
		{
			name: "ipv6 and mapped", records: 2,
			in:   "2001:0db8:0000:0000:0000:0000:0000:0001\t2\n::ffff:192.0.2.9\t5\n",
			want: []string{"1 2001:db8::1/128", "2 192.0.2.9/32"},
		},
		{
			name: "garbage", records: 1, skipped: 0,
			opts: Options{MinCount: 2},
			in: strings.Join([]string{
				"192.0.2.1",                       // 1: no count
				"192.0.2.1\tx",                    // 2: count not a number
				"192.0.2.1\t-3",                   // 3: negative count
				"192.0.2.1\t3\tmore",              // 4: third field
				"300.0.0.1\t9",                    // 5: bad address, however high the count
				"bad\t1",                          // 6: bad address below min count is still invalid
				"192.0.2.7\t99999999999999999999", // 7: huge count saturates, kept
			}, "\n"),
			want:    []string{"7 192.0.2.7/32"},
			invalid: []int{1, 2, 3, 4, 5, 6},
		},
	})
}

// TestCorpusIPSum parses the real ipsum.txt at several thresholds and
// compares it with the reference. Counts confirmed with awk:
// awk -F'\t' '!/^#/ && NF==2 {n++; if ($2>=3) k++}' gives 120430 and 14217;
// 3 rows have count 10.
func TestCorpusIPSum(t *testing.T) {
	t.Parallel()
	dir := testenv.SharedFeeds(t)
	manifest := map[int]int{1: 120430, 3: 14217, 10: 3}
	for _, file := range corpusFiles(t, dir, "abuse/ipsum_*.txt") {
		text := readCorpus(t, file)
		for _, min := range []int{0, 1, 3, 10} {
			got := parseText(text, Options{Format: FormatIPSum, MinCount: min})
			if len(got.fatal) != 0 || len(got.lineErrs) != 0 {
				t.Errorf("%s: %v %v", file, got.fatal, got.lineErrs)
			}
			compareRef(t, file, got, refIPSum(text, max(min, 1)), true)
			if want, ok := manifest[max(min, 1)]; ok && strings.Contains(file, "ipsum_2026-08-22") && got.stats.Records != want {
				t.Errorf("%s MinCount %d: %d records, awk counts %d", file, min, got.stats.Records, want)
			}
		}
	}
}
