package feeds

import "testing"

// FuzzParseSpamhausDrop checks the spamhaus-drop parser's invariants and
// compares it with the slow reference on every input.
func FuzzParseSpamhausDrop(f *testing.F) {
	// Real excerpts (testdata/spamhaus-*): DROP text with its header and
	// "; EOF", DROPv6, EDROP without "; EOF", the empty merged EDROP,
	// drop_v4.json NDJSON with its metadata line, and an edge-case file
	// mixing text, JSON and CRLF.
	fuzzSeeds(f, "spamhaus-*")
	f.Add([]byte(`{"cidr":"192.0.2.0/24","sblid":"SBL1","rir":"arin"}`))  // one JSON record, no newline
	f.Add([]byte(`{"type":"metadata","timestamp":1,"records":0}` + "\n")) // metadata only
	f.Add([]byte(`{"cidr":"2001:db8::1/32"}` + "\n" + `{"cidr":["x"]}`))  // host bits; cidr of the wrong type
	f.Add([]byte(`{"Cidr":"192.0.2.0/24","TYPE":"x"}`))                   // key case
	f.Add([]byte("192.0.2.0/24;SBL1\n; EOF"))                             // no spaces around ';'
	f.Fuzz(func(t *testing.T, in []byte) {
		got := parseText(string(in), Options{Format: FormatSpamhausDrop})
		checkInvariants(t, in, got, true, false)
		if plainText(in) {
			compareRef(t, "spamhaus-drop", got, refSpamhaus(string(in)), true)
		}
	})
}
