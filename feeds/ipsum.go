package feeds

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// The ipsum format (stamparm/ipsum): '#' header lines, then
// "<address><TAB><count>" per line, where count is the number of
// blacklists that list the address. A line is kept when count ≥
// Options.MinCount (default 1); a line below it is counted in
// Stats.Skipped, and is neither a record nor invalid. Any run of ASCII
// white space separates the two fields; a line without a count, with a count
// that is not a decimal number, or with a third field is invalid.

func init() { register(FormatIPSum, parseIPSum) }

var (
	errNoCount    = errors.New("missing count")
	errExtraField = errors.New("unexpected text after count")
)

func parseIPSum(r io.Reader, p *parser) error {
	var nets []netip.Prefix
	return eachLine(r, p, func(n int, line []byte) {
		s := stripComment(line)
		if len(s) == 0 {
			return
		}
		addr, rest := cutField(s)
		countField, rest := cutField(rest)
		if len(countField) == 0 {
			p.bad(n, line, errNoCount)
			return
		}
		if len(rest) != 0 {
			p.bad(n, line, errExtraField)
			return
		}
		count, ok := parseCount(countField)
		if !ok {
			p.bad(n, line, fmt.Errorf("bad count %q", countField))
			return
		}
		var err error
		if nets, err = parseNetFast(nets[:0], string(addr)); err != nil {
			p.bad(n, line, err)
			return
		}
		if count < p.opts.MinCount {
			p.stats.Skipped++
			return
		}
		acceptNets(p, n, nets)
	})
}

// cutField returns the first field of s, separated by ASCII white space,
// and the rest of s after the white space that follows it.
func cutField(s []byte) (field, rest []byte) {
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	field, rest = s[:i], s[i:]
	for len(rest) > 0 && isSpace(rest[0]) {
		rest = rest[1:]
	}
	return field, rest
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'
}

// parseCount parses a non-negative decimal count, saturating at a value
// far above any real count instead of overflowing.
func parseCount(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	const limit = 1 << 30
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v < limit {
			v = v*10 + int(c-'0')
		}
	}
	return v, true
}
