package feeds

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// The proxy-list format is a list of open proxies, one a line, as the
// public proxy lists write them:
//
//	socks5://144.31.222.106:7890             monosans all.txt: scheme://host:port
//	185.128.104.152:8443                     monosans, TheSpeedX: host:port
//	http://user:secret@192.0.2.10:3128/      credentials, a trailing slash
//	[2001:db8::7]:1080                       IPv6 in brackets
//	82.23.34.0/24;Trunk Networks LTD;1.0     Avastel: a CIDR, ';'-separated columns
//	198.51.100.4 | 8080 | elite              '|'-separated columns
//
// The proxy is the first field of the line, which ends at the first '|',
// ';', space or tab; the other columns are ignored. It is
// [scheme://][user:password@]host[:port][/path]: the host must be an IP
// address (IPv6 in brackets when a port follows), and without a port it
// may also be a bare IPv6 address or a CIDR. The port, when present, must
// be a number from 0 to 65535. One record is one proxy line, and yields the
// host's prefix: it is the host, not the port, that reaches websites.
//
// Lines whose first non-blank character is '#' are comments, and blank
// lines are skipped. Everything else that is not a proxy is a bad line,
// never a file error: banners, header rows ("ip_address;autonomous_system"),
// host names (a proxy list names no networks by host name, and resolving
// one is not the parser's business), and IPv4 addresses with zero-padded
// octets (TheSpeedX's "103.250.166.04:6667", read as octal by some tools
// and as decimal by others).
//
// For monosans' proxies.json, use the json format (see [FormatJSON]).

func init() { register(FormatProxyList, parseProxyList) }

var (
	errProxyHostname = errors.New("host is not an IP address")
	errProxyPort     = errors.New("bad port")
	errProxyScheme   = errors.New("bad scheme")
	errProxyBracket  = errors.New("unclosed or misplaced bracket")
)

func parseProxyList(r io.Reader, p *parser) error {
	return eachLine(r, p, func(n int, line []byte) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			return
		}
		if i := bytes.IndexAny(t, "|; \t"); i >= 0 {
			t = t[:i]
		}
		pfx, err := parseProxy(string(t))
		if err != nil {
			p.bad(n, line, err)
			return
		}
		p.stats.Records++
		p.emit(Entry{Prefix: pfx, Line: n})
	})
}

// parseProxy parses one proxy field and returns its host's prefix.
func parseProxy(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errEmpty
	}
	scheme := false
	if i := strings.Index(s, "://"); i >= 0 {
		if !validScheme(s[:i]) {
			return netip.Prefix{}, errProxyScheme
		}
		s, scheme = s[i+3:], true
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if scheme {
		// After a scheme, '/' starts the path (a URL holds no CIDR).
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i]
		}
	}
	host, port, hasPort := s, "", false
	switch {
	case strings.HasPrefix(s, "["):
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return netip.Prefix{}, errProxyBracket
		}
		host = s[1:i]
		switch rest := s[i+1:]; {
		case rest == "":
		case rest[0] == ':':
			port, hasPort = rest[1:], true
		case rest[0] == '/' && !scheme: // [v6]/len
			host += rest
		default:
			return netip.Prefix{}, errProxyBracket
		}
	case strings.Count(s, ":") == 1:
		i := strings.IndexByte(s, ':')
		host, port, hasPort = s[:i], s[i+1:], true
	}
	if hasPort {
		if !validPort(port) {
			return netip.Prefix{}, errProxyPort
		}
		a, err := ParseAddr(host)
		if err != nil {
			return netip.Prefix{}, proxyHostError(host, err)
		}
		return HostPrefix(a), nil
	}
	if strings.IndexByte(host, '/') >= 0 {
		pfx, err := ParsePrefix(host)
		if err != nil {
			return netip.Prefix{}, proxyHostError(host, err)
		}
		return pfx, nil
	}
	a, err := ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, proxyHostError(host, err)
	}
	return HostPrefix(a), nil
}

// proxyHostError names a host that is not an address as such; the error
// of an address that is broken (bad octets, a zone) is kept.
func proxyHostError(host string, err error) error {
	if strings.IndexByte(host, '%') >= 0 {
		return err
	}
	for _, c := range host {
		if c == '-' || c == '_' || (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z') {
			return errProxyHostname
		}
	}
	return err
}

// validScheme reports whether s is a URL scheme (RFC 3986 §3.1).
func validScheme(s string) bool {
	if s == "" || !isASCIILetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isASCIILetter(c) && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// validPort reports whether s is a decimal port number, 0 to 65535.
func validPort(s string) bool {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 16)
	return err == nil
}
