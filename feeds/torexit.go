package feeds

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// The tor-exit-addresses format is the TorDNSEL exit list served at
// https://check.torproject.org/exit-addresses and archived by CollecTor:
//
//	@type tordnsel 1.0                 (CollecTor only)
//	Downloaded 2018-11-01 00:02:01     (CollecTor only)
//	ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E
//	Published 2018-10-31 05:08:21
//	LastStatus 2018-10-31 06:02:24
//	ExitAddress 162.247.74.201 2018-10-31 06:03:23
//
// One record is one ExitAddress line: a relay may list several, and several
// relays may share one address, so records and distinct prefixes differ.
// The timestamps are "YYYY-MM-DD HH:MM:SS" in UTC and hold a space, so an
// ExitAddress line has exactly four fields.

func init() { register(FormatTorExitAddresses, parseTorExitAddresses) }

const torTimeLayout = "2006-01-02 15:04:05"

var (
	errTorExitFields  = errors.New("ExitAddress wants an address, a date and a time")
	errTorUnknownLine = errors.New("not a TorDNSEL line")
)

// parseTorExitAddresses reads a TorDNSEL exit list. Lines other than the
// four TorDNSEL keywords and the CollecTor header are rejected, so a file of
// another format is reported rather than silently read as empty.
func parseTorExitAddresses(r io.Reader, p *parser) error {
	var fields [5][]byte
	return eachLine(r, p, func(n int, line []byte) {
		f := torFields(fields[:0], line)
		if len(f) == 0 {
			return
		}
		switch string(f[0]) {
		case "ExitAddress":
			// handled below
		case "ExitNode", "Published", "LastStatus", "Downloaded", "@type":
			return
		default:
			p.bad(n, line, errTorUnknownLine)
			return
		}
		if len(f) != 4 {
			p.bad(n, line, errTorExitFields)
			return
		}
		addr, err := ParseAddr(string(f[1]))
		if err != nil {
			p.bad(n, line, err)
			return
		}
		if _, err := time.Parse(torTimeLayout, string(f[2])+" "+string(f[3])); err != nil {
			p.bad(n, line, fmt.Errorf("bad ExitAddress time: %w", err))
			return
		}
		p.stats.Records++
		p.emit(Entry{Prefix: HostPrefix(addr), Line: n})
	})
}

// torFields appends to dst the fields of line separated by runs of spaces
// and tabs. When dst has a capacity it stops once dst is full, so that it
// never allocates: a caller that wants k fields passes a capacity above k
// and learns that there were too many from a full dst. The fields alias line.
func torFields(dst [][]byte, line []byte) [][]byte {
	limit := cap(dst)
	for len(line) > 0 {
		i := 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		line = line[i:]
		if len(line) == 0 {
			break
		}
		j := bytes.IndexAny(line, " \t")
		if j < 0 {
			j = len(line)
		}
		dst = append(dst, line[:j])
		line = line[j:]
		if limit > 0 && len(dst) == limit {
			break
		}
	}
	return dst
}
