package feeds

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// The csv format: comma-separated rows naming a network either in one
// column (a CIDR, an address or an a-b range) or as an inclusive start,end
// pair of address columns. Real examples: ipcat datacenters.csv (no
// header; start,end,name,url; many ranges not CIDR-aligned) and jhassine
// datacenters.csv (header "cidr","hostmin","hostmax","vendor").
//
// Columns are chosen as follows. Options.CIDRColumn selects the network
// column; Options.StartColumn and Options.EndColumn select a range (with
// StartColumn alone, that column holds a whole network). Each is a 0-based
// index or a header name, matched without regard to case; naming a column
// makes the first row a header. With no option set, a first row with a
// field named cidr, network or prefix (or subnet, cidr_block, ip_prefix,
// ipv4_prefix, ipv6_prefix) is a header that selects it, and otherwise
// columns 0 and 1 are read as a range; in that default layout a CIDR in
// column 0 is read alone, whatever column 1 holds, so headerless
// "cidr,name" files work too. In range mode a row whose end column is
// missing or empty is read from its start column alone.
//
// The first row is also taken as a header, neither a record nor invalid,
// when its selected fields fail to parse and hold no '.' or ':' (so
// "start,end" is a header, "1.2.3,x" is a bad row). Blank lines and lines
// starting with '#' are skipped.
//
// Rows are split by this file, not encoding/csv: one line is one row.
// Quoted fields ("a, b" and doubled "" quotes) are understood, white space
// around fields is trimmed, and text between a closing quote and the next
// comma is kept as a lenient reader would. A quoted field that does not
// close on its own line makes that row invalid and parsing goes on with
// the next line. This gives up RFC 4180 multi-line fields, which no
// network feed uses, to keep exact line numbers and to stop one stray
// quote from swallowing the rows after it, as encoding/csv with
// LazyQuotes does.

func init() { register(FormatCSV, parseCSV) }

var (
	errUnterminatedQuote = errors.New("unterminated quoted field")
	errCSVColumns        = errors.New("csv: end column given without start column")
	errCSVModes          = errors.New("csv: cidr column and start/end columns both given")
)

// csvLayout says which columns hold the network.
type csvLayout struct {
	cidr       int // ≥ 0: network column; -1: range mode
	start, end int // range mode columns; end may be -1
	// auto marks the default layout (no options, no header naming a
	// network column): a CIDR in column 0 is then read alone, so that
	// headerless "cidr,name" files work too.
	auto bool
}

// csvColumn is one column option: unset, an index or a header name.
type csvColumn struct {
	set   bool
	index int    // when name == ""
	name  string // lower case
}

func parseCSVColumn(s string) csvColumn {
	s = strings.TrimSpace(s)
	if s == "" {
		return csvColumn{}
	}
	if i, err := strconv.Atoi(s); err == nil && i >= 0 {
		return csvColumn{set: true, index: i}
	}
	return csvColumn{set: true, name: strings.ToLower(s)}
}

// resolve returns the column's index in header, which may be nil when the
// column is given by index.
func (c csvColumn) resolve(header []string) (int, error) {
	if !c.set {
		return -1, nil
	}
	if c.name == "" {
		return c.index, nil
	}
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), c.name) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("csv: no column %q in header", c.name)
}

func parseCSV(r io.Reader, p *parser) error {
	cidrCol := parseCSVColumn(p.opts.CIDRColumn)
	startCol := parseCSVColumn(p.opts.StartColumn)
	endCol := parseCSVColumn(p.opts.EndColumn)
	if cidrCol.set && (startCol.set || endCol.set) {
		return errCSVModes
	}
	if endCol.set && !startCol.set {
		return errCSVColumns
	}
	named := cidrCol.name != "" || startCol.name != "" || endCol.name != ""

	var (
		layout csvLayout
		first  = true
		fatal  error
		fields []string
		nets   []netip.Prefix
	)
	err := eachLine(r, p, func(n int, line []byte) {
		if fatal != nil {
			return
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			return
		}
		var err error
		fields, err = splitCSV(fields[:0], t)
		if err != nil {
			p.bad(n, line, err)
			return
		}
		if first {
			first = false
			var header bool
			layout, header, fatal = csvFirstRow(fields, named, cidrCol, startCol, endCol)
			if fatal != nil {
				fatal = fmt.Errorf("line %d: %w", n, fatal)
				return
			}
			if header {
				return
			}
			nets, err = csvRow(nets[:0], fields, layout)
			if err != nil {
				if csvLooksLikeHeader(fields, layout) {
					return
				}
				p.bad(n, line, err)
				return
			}
			acceptNets(p, n, nets)
			return
		}
		nets, err = csvRow(nets[:0], fields, layout)
		if err != nil {
			p.bad(n, line, err)
			return
		}
		acceptNets(p, n, nets)
	})
	if fatal != nil {
		return fatal
	}
	return err
}

// csvFirstRow works out the layout from the options and the first row,
// and reports whether that row is a header by name.
func csvFirstRow(row []string, named bool, cidrCol, startCol, endCol csvColumn) (l csvLayout, header bool, err error) {
	if !cidrCol.set && !startCol.set {
		for i, f := range row {
			switch strings.ToLower(strings.TrimSpace(f)) {
			case "cidr", "network", "prefix", "subnet", "cidr_block", "ip_prefix", "ipv4_prefix", "ipv6_prefix":
				return csvLayout{cidr: i, start: -1, end: -1}, true, nil
			}
		}
		return csvLayout{cidr: -1, start: 0, end: 1, auto: true}, false, nil
	}
	var h []string
	if named {
		h = row
	}
	l = csvLayout{cidr: -1, start: -1, end: -1}
	if l.cidr, err = cidrCol.resolve(h); err != nil {
		return l, false, err
	}
	if l.start, err = startCol.resolve(h); err != nil {
		return l, false, err
	}
	if l.end, err = endCol.resolve(h); err != nil {
		return l, false, err
	}
	return l, named, nil
}

// csvRow appends the prefixes of one data row to dst.
func csvRow(dst []netip.Prefix, row []string, l csvLayout) ([]netip.Prefix, error) {
	if l.cidr >= 0 {
		if l.cidr >= len(row) {
			return dst, fmt.Errorf("missing column %d", l.cidr)
		}
		return parseNetFast(dst, row[l.cidr])
	}
	if l.start >= len(row) {
		return dst, fmt.Errorf("missing column %d", l.start)
	}
	if l.end < 0 || l.end >= len(row) || strings.TrimSpace(row[l.end]) == "" ||
		(l.auto && strings.IndexByte(row[l.start], '/') >= 0) {
		return ParseNet(dst, row[l.start])
	}
	from, err := ParseAddr(strings.TrimSpace(row[l.start]))
	if err != nil {
		return dst, fmt.Errorf("start: %w", err)
	}
	to, err := ParseAddr(strings.TrimSpace(row[l.end]))
	if err != nil {
		return dst, fmt.Errorf("end: %w", err)
	}
	return RangePrefixes(dst, from, to)
}

// csvLooksLikeHeader reports whether a first row that failed to parse is
// a header: none of its selected fields holds a '.' or ':', so none is an
// attempt at an address.
func csvLooksLikeHeader(row []string, l csvLayout) bool {
	for _, i := range []int{l.cidr, l.start, l.end} {
		if i >= 0 && i < len(row) && strings.ContainsAny(row[i], ".:") {
			return false
		}
	}
	return true
}

// splitCSV appends the fields of one CSV line to dst. Fields are trimmed
// of spaces and tabs; a field that starts with '"' is quoted, with ""
// standing for one quote, and must close on this line.
func splitCSV(dst []string, line []byte) ([]string, error) {
	for {
		for len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			line = line[1:]
		}
		if len(line) == 0 || line[0] != '"' {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				return append(dst, string(bytes.TrimRight(line, " \t"))), nil
			}
			dst = append(dst, string(bytes.TrimRight(line[:i], " \t")))
			line = line[i+1:]
			continue
		}
		// Quoted field. The common case, no doubled quote and nothing
		// between the closing quote and the comma, needs one string.
		line = line[1:]
		if i := bytes.IndexByte(line, '"'); i >= 0 {
			rest := bytes.TrimLeft(line[i+1:], " \t")
			if len(rest) == 0 || rest[0] == ',' {
				dst = append(dst, string(line[:i]))
				if len(rest) == 0 {
					return dst, nil
				}
				line = rest[1:]
				continue
			}
		}
		var b []byte
		closed := false
		for !closed {
			i := bytes.IndexByte(line, '"')
			if i < 0 {
				return dst, errUnterminatedQuote
			}
			b = append(b, line[:i]...)
			line = line[i+1:]
			if len(line) > 0 && line[0] == '"' {
				b = append(b, '"')
				line = line[1:]
				continue
			}
			closed = true
		}
		// Lenient: keep any text between the closing quote and the comma.
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return append(dst, string(append(b, bytes.TrimRight(line, " \t")...))), nil
		}
		dst = append(dst, string(append(b, bytes.TrimRight(line[:i], " \t")...)))
		line = line[i+1:]
	}
}
