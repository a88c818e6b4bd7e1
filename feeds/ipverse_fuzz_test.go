package feeds

import "testing"

// FuzzParseIPVerseJSON checks the ipverse-json parser's invariants on
// any input, JSON or not.
func FuzzParseIPVerseJSON(f *testing.F) {
	// Real excerpt (testdata/ipverse-as208172-aggregated.json, Proton AG,
	// no final newline) and an edge-case file (array of documents, asn
	// as "AS…" string, bad subnets, a range).
	fuzzSeeds(f, "ipverse-*")
	f.Add([]byte(`{}`))                                              // empty object
	f.Add([]byte(`[]`))                                              // empty array
	f.Add([]byte(`{"asn":1,"subnets":{"ipv4":["192.0.2.1/24"]}}{`))  // trailing junk
	f.Add([]byte(`{"subnets":{"ipv6":["::ffff:1.2.3.4/128"]}}`))     // mapped
	f.Add([]byte(`{"subnets":{"ipv4":[[[[]]]],"x":{}},"asn":1e99}`)) // nesting, huge asn
	f.Add([]byte("{\"subnets\":\n{\"ipv4\":\n[\"1.2.3.4\",\n\"x\"]}}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got := parseText(string(in), Options{Format: FormatIPVerseJSON})
		checkInvariants(t, in, got, false, true)
	})
}
