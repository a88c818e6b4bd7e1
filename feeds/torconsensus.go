package feeds

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// The tor-consensus format is a Tor network-status consensus (dir-spec,
// "Vote and consensus status document formats"), in the "ns" flavour or the
// "microdesc" flavour, as a tor client caches it or as CollecTor archives it
// (with an "@type" first line). The router section holds one block per relay:
//
//	r nick identity digest 2022-11-19 03:58:26 104.53.221.159 9001 0   (ns)
//	r nick identity 2022-11-19 03:58:26 104.53.221.159 9001 0          (microdesc)
//	a [2a0b:f4c2:2::33]:10133                                           (zero or more)
//	s Exit Fast Guard Running Stable Valid                              (exactly once)
//	v, pr, w, p, m lines                                                (ignored)
//
// The two flavours differ only by the digest field, so the address is read
// from the end of the r line: IPv4, ORPort, DirPort are always its last
// three fields. One record is one relay whose s line has the Exit flag and
// not the BadExit flag; it yields its IPv4 address and the IPv6 address of
// each a line. Every other relay is counted in Stats.Skipped. The router
// section ends at "directory-footer"; the signatures after it are not read.
// A document cut short ends its last relay where it stops.

func init() { register(FormatTorConsensus, parseTorConsensus) }

var (
	errTorRouterFields = errors.New("r line wants 8 (microdesc) or 9 (ns) fields")
	errTorNoStatus     = errors.New("relay has no s line")
	errTorTwoStatus    = errors.New("relay has a second s line")
	errTorPort         = errors.New("bad port")
	errTorNotConsensus = errors.New("no network-status-version line and no r line: not a Tor consensus")
)

// torRelay is the block being read: its addresses are held until its s
// line says whether it is an exit.
type torRelay struct {
	line      int    // of the r line; 0 when no relay is open
	text      []byte // the r line, for errors
	addrs     []torAddr
	hasStatus bool
	exit      bool
}

type torAddr struct {
	addr netip.Addr
	line int
}

func parseTorConsensus(r io.Reader, p *parser) error {
	var (
		relay  torRelay
		fields [11][]byte
		done   bool
		// recognised: a version line or an r line was seen; lines: any
		// non-empty line was. A file with lines but neither is in another
		// format and is reported rather than read as an empty consensus.
		recognised, lines bool
	)
	flush := func() {
		if relay.line == 0 {
			return
		}
		switch {
		case !relay.hasStatus:
			p.bad(relay.line, relay.text, errTorNoStatus)
		case relay.exit:
			p.stats.Records++
			for _, a := range relay.addrs {
				p.emit(Entry{Prefix: HostPrefix(a.addr), Line: a.line})
			}
		default:
			p.stats.Skipped++
		}
		relay = torRelay{text: relay.text[:0], addrs: relay.addrs[:0]}
	}
	err := eachLine(r, p, func(n int, line []byte) {
		if done || len(line) == 0 {
			return
		}
		lines = true
		if bytes.HasPrefix(line, []byte("network-status-version ")) {
			recognised = true
		}
		if len(line) < 2 {
			return
		}
		// Keywords of the router section are one letter and a space.
		switch {
		case line[0] == 'r' && line[1] == ' ':
			flush()
			f := torFields(fields[:0], line)
			if len(f) != 8 && len(f) != 9 {
				p.bad(n, line, errTorRouterFields)
				return
			}
			addr, err := ParseAddr(string(f[len(f)-3]))
			if err == nil && !addr.Is4() {
				err = fmt.Errorf("r line address %s is not IPv4", addr)
			}
			if err != nil {
				p.bad(n, line, err)
				return
			}
			for _, port := range f[len(f)-2:] {
				if _, err := strconv.ParseUint(string(port), 10, 16); err != nil {
					p.bad(n, line, errTorPort)
					return
				}
			}
			recognised = true
			relay.line = n
			relay.text = append(relay.text, line...)
			relay.addrs = append(relay.addrs, torAddr{addr, n})
		case line[0] == 'a' && line[1] == ' ':
			if relay.line == 0 {
				return // belongs to a rejected r line
			}
			addr, err := torAddrPort(bytes.TrimSpace(line[2:]))
			if err != nil {
				p.bad(n, line, err)
				return
			}
			relay.addrs = append(relay.addrs, torAddr{addr, n})
		case line[0] == 's' && line[1] == ' ':
			if relay.line == 0 {
				return
			}
			if relay.hasStatus {
				p.bad(n, line, errTorTwoStatus)
				return
			}
			relay.hasStatus = true
			relay.exit = torExitFlags(line[2:])
		case bytes.Equal(line, []byte("directory-footer")):
			flush()
			done = true
		}
	})
	if !done {
		flush() // a truncated document, or one without a footer
	}
	if err == nil && lines && !recognised {
		err = errTorNotConsensus
	}
	return err
}

// torExitFlags reports whether the flags of an s line include Exit and not
// BadExit. Flags are whole words: "Exit" does not match "BadExit".
func torExitFlags(flags []byte) bool {
	exit := false
	for len(flags) > 0 {
		i := bytes.IndexByte(flags, ' ')
		if i < 0 {
			i = len(flags)
		}
		switch string(flags[:i]) {
		case "Exit":
			exit = true
		case "BadExit":
			return false
		}
		if i == len(flags) {
			break
		}
		flags = flags[i+1:]
	}
	return exit
}

// torAddrPort parses the "address:port" of an a line: "[v6]:port" as Tor
// writes it, or "a.b.c.d:port", which dir-spec allows though Tor does not
// currently write it.
func torAddrPort(b []byte) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(string(b))
	if err != nil {
		return netip.Addr{}, err
	}
	if ap.Addr().Zone() != "" {
		return netip.Addr{}, errZone
	}
	return ap.Addr().Unmap(), nil
}
