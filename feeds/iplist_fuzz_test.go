package feeds

import "testing"

// FuzzParseIPList checks the ip-list parser's invariants and compares it
// with the slow reference on every input.
func FuzzParseIPList(f *testing.F) {
	// Real excerpts (testdata/iplist-*): FireHOL level1 header and
	// netset lines, AbuseIPDB inline comments, ET and torbulkexitlist
	// plain addresses, SecOps zero-padded IPv6, X4BNet v4/v6 CIDRs,
	// ipverse headers, the comment-only X4BNet Manual.txt, and an
	// edge-case file (CRLF, ranges, mapped, zones, garbage).
	fuzzSeeds(f, "iplist-*")
	f.Add([]byte(""))                                      // empty input
	f.Add([]byte("192.0.2.1"))                             // no final newline
	f.Add([]byte("192.0.2.0/24\r\n2001:db8::1/64\r\n"))    // CRLF, host bits
	f.Add([]byte("::ffff:192.0.2.1\n::ffff:0.0.0.0/96\n")) // IPv4-mapped address and prefix
	f.Add([]byte("0.0.0.0-255.255.255.255\n:: - ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n"))
	f.Add([]byte("2001:0470:0001:0908:0000:0000:0000:9001 # zero padded\n"))
	f.Add([]byte("[2001:db8::1]\n[::1]/128\n1.2.3.4/024\n"))  // brackets, zero-padded length
	f.Add([]byte("1.2.3.4-\n-1.2.3.4\n1.2.3.4--1.2.3.5\n"))   // dangling dashes
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")) // truncated gzip header
	f.Fuzz(func(t *testing.T, in []byte) {
		got := parseText(string(in), Options{Format: FormatIPList})
		checkInvariants(t, in, got, true, false)
		if plainText(in) {
			compareRef(t, "ip-list", got, refIPList(string(in)), true)
		}
	})
}
