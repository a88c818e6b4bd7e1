package feeds

import "testing"

// FuzzParseIPSum checks the ipsum parser's invariants and compares it
// with the slow reference at the fuzzed threshold.
func FuzzParseIPSum(f *testing.F) {
	// Real excerpt (testdata/ipsum.txt): the header, counts 10 down to 1;
	// and an edge-case file (spaces, count 0, IPv6, missing and bad counts).
	fuzzSeeds(f, "ipsum*", 0)
	fuzzSeeds(f, "ipsum*", 3)
	add := func(b []byte, min int) { f.Add(b, min) }
	add([]byte("192.0.2.1\t3"), 3)                      // exactly at the threshold, no newline
	add([]byte("192.0.2.1\t2\n192.0.2.2\t4\n"), 3)      // one below, one above
	add([]byte("192.0.2.1\t007\r\n"), 7)                // leading zeros, CRLF
	add([]byte("192.0.2.1\t99999999999999999999\n"), 5) // overflowing count
	add([]byte("192.0.2.1\t+3\n192.0.2.2\t-3\n"), -1)   // signed counts, negative threshold
	f.Fuzz(func(t *testing.T, in []byte, minCount int) {
		got := parseText(string(in), Options{Format: FormatIPSum, MinCount: minCount})
		checkInvariants(t, in, got, true, false)
		if plainText(in) {
			compareRef(t, "ipsum", got, refIPSum(string(in), max(minCount, 1)), true)
		}
	})
}
