package feeds

import (
	"bytes"
	"io"
)

// The geofeed format is an RFC 8805 self-published geofeed, the CSV in
// which networks state where their prefixes are used (DigitalOcean,
// Linode, Vultr):
//
//	# Last modified: 2025-07-24 10:00:06.525037
//	5.101.96.0/21,NL,NL-NH,Amsterdam,1098 XH
//	2600:3c00::/32,US,US-TX,Richardson,
//
// One record is one row, and yields the prefix of its first column (a
// single address stands for its host prefix). The other columns (country,
// region, city, postal code, and any that a publisher adds beyond RFC
// 8805's five) are ignored: the format lists a provider's address space,
// and locating it is not this project's business. Lines whose first
// non-blank character is '#' are comments (RFC 8805 §2.1.1), blank lines are
// skipped, and a first column that is not a prefix, a header row included,
// is a bad line. The prefix may be wrapped in double quotes, as CSV allows.

func init() { register(FormatGeofeed, parseGeofeed) }

func parseGeofeed(r io.Reader, p *parser) error {
	return eachLine(r, p, func(n int, line []byte) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			return
		}
		if i := bytes.IndexByte(t, ','); i >= 0 {
			t = bytes.TrimSpace(t[:i])
		}
		if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
			t = bytes.TrimSpace(t[1 : len(t)-1])
		}
		pfx, err := addrOrPrefix(string(t))
		if err != nil {
			p.bad(n, line, err)
			return
		}
		p.stats.Records++
		p.emit(Entry{Prefix: pfx, Line: n})
	})
}
