package feeds

import (
	"io"
	"net/netip"
	"strings"
)

// The ip-list format: one network per line, written as an address
// ("192.0.2.1", "2001:0db8:0000::0001"), a CIDR ("192.0.2.0/24") or an
// inclusive range ("192.0.2.1-192.0.2.9", spaces around the dash allowed).
// Everything from the first '#' or ';' is a comment, so FireHOL headers,
// Spamhaus-style trailers and AbuseIPDB annotations
// ("1.0.138.92       # TH  AS23969 …") all reduce to the network.
// An address with a port ("192.0.2.1:8080", "[2001:db8::1]:443"), as
// proxy lists write them, stands for the address. Blank lines are
// skipped. Any other text on a line makes it invalid: a
// stray word is more likely damage than a feed extension, and reporting
// it is safer than guessing.
//
// Real feeds in this format: FireHOL .netset/.ipset, X4BNet outputs and
// inputs, Emerging Threats compromised-ips, torbulkexitlist, AbuseIPDB
// aggregates, ipverse ipv4/ipv6-aggregated.txt, SecOps Tor lists.

func init() { register(FormatIPList, parseIPList) }

func parseIPList(r io.Reader, p *parser) error {
	var nets []netip.Prefix
	return eachLine(r, p, func(n int, line []byte) {
		s := stripComment(line)
		if len(s) == 0 {
			return
		}
		str := string(s)
		var err error
		nets, err = parseNetFast(nets[:0], str)
		if err != nil {
			// Proxy lists write "addr:port"; the address is the host.
			ap, perr := netip.ParseAddrPort(str)
			if perr != nil || ap.Addr().Zone() != "" {
				p.bad(n, line, err)
				return
			}
			nets = append(nets[:0], HostPrefix(ap.Addr().Unmap()))
		}
		acceptNets(p, n, nets)
	})
}

// acceptNets counts one accepted data record found on line n and emits one
// entry per prefix it covers.
func acceptNets(p *parser, n int, nets []netip.Prefix) {
	p.stats.Records++
	for _, pfx := range nets {
		p.emit(Entry{Prefix: pfx, Line: n})
	}
}

// parseNetFast is ParseNet with a fast path for the common forms: a CIDR
// or an address that is neither IPv4-mapped nor zoned is parsed once by
// net/netip. Everything else, errors included, goes through ParseNet, so
// results and messages are ParseNet's.
func parseNetFast(dst []netip.Prefix, s string) ([]netip.Prefix, error) {
	if strings.IndexByte(s, '-') < 0 {
		if strings.IndexByte(s, '/') >= 0 {
			if pfx, err := netip.ParsePrefix(s); err == nil && !pfx.Addr().Is4In6() {
				return append(dst, pfx.Masked()), nil
			}
		} else if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" && !a.Is4In6() {
			return append(dst, HostPrefix(a)), nil
		}
	}
	return ParseNet(dst, s)
}
