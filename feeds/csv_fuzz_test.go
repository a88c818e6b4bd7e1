package feeds

import "testing"

// FuzzParseCSV checks the csv parser's invariants with and without
// column options.
func FuzzParseCSV(f *testing.F) {
	// Real excerpts (testdata/csv-*): ipcat start,end,name,url rows with
	// quoted names holding commas, jhassine all-quoted rows under a
	// "cidr" header; and an edge-case file (header, unterminated quote,
	// reversed and IPv6 ranges, empty fields, CRLF).
	fuzzSeeds(f, "csv-*", "", "", "")
	f.Add([]byte("cidr\n192.0.2.0/24"), "", "", "")               // header only selects
	f.Add([]byte("a,b,c\n1,192.0.2.0,192.0.2.9\n"), "", "b", "c") // columns by name
	f.Add([]byte("1,192.0.2.0/24\n"), "1", "", "")                // column by index
	f.Add([]byte("192.0.2.0\n"), "", "0", "")                     // start column alone
	f.Add([]byte("\"a\n\"\n192.0.2.1,192.0.2.2\n"), "", "", "")   // a quote across lines
	f.Add([]byte("x,y\n192.0.2.1,192.0.2.2\n"), "", "9", "10")    // columns past the row
	f.Add([]byte("\"\"\"\",\"192.0.2.1\"\"\",,\n"), "", "", "")   // doubled quotes
	f.Fuzz(func(t *testing.T, in []byte, cidrCol, startCol, endCol string) {
		opts := Options{Format: FormatCSV, CIDRColumn: cidrCol, StartColumn: startCol, EndColumn: endCol}
		got := parseText(string(in), opts)
		// Conflicting options and header names missing from the first row
		// are file errors; nothing else may be.
		c, s, e := parseCSVColumn(cidrCol), parseCSVColumn(startCol), parseCSVColumn(endCol)
		optionError := (c.set && (s.set || e.set)) || (e.set && !s.set)
		named := c.name != "" || s.name != "" || e.name != ""
		checkInvariants(t, in, got, true, optionError || named)
	})
}
