package httpguard

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// loopback holds the networks trusted as proxies when no others are
// configured; see [Loopback].
var loopback = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// Loopback returns the networks trusted as proxies when no others are
// configured: 127.0.0.0/8 (RFC 1122 §3.2.1.3) and ::1/128 (RFC 4291
// §2.5.3). The slice is a fresh copy: changing it changes nothing else.
func Loopback() []netip.Prefix { return append([]netip.Prefix(nil), loopback...) }

// AddrError reports a client address that cannot be determined: the peer
// address of the connection or an element of a forwarding header written by
// a trusted proxy does not parse.
type AddrError struct {
	Header string // "X-Forwarded-For", "Forwarded", "X-Real-IP" or "" for the peer address
	Value  string // the offending element
	Err    error  // why it was rejected
}

var _ error = (*AddrError)(nil)

// Error implements error.
func (e *AddrError) Error() string {
	if e.Header == "" {
		return fmt.Sprintf("peer address %q: %v", e.Value, e.Err)
	}
	return fmt.Sprintf("%s element %q: %v", e.Header, e.Value, e.Err)
}

// Unwrap returns the underlying cause.
func (e *AddrError) Unwrap() error { return e.Err }

var (
	errUnknownNode = errors.New("unknown or obfuscated node")
	errNoFor       = errors.New("no for= parameter")
)

// ClientAddr returns the address of the client that made r.
//
// The connection's peer (r.RemoteAddr) is the client unless it lies in one
// of the trusted networks. A trusted peer is a proxy, so the client is taken
// from the forwarding header it wrote, walking from the right (the hop
// closest to us) past every element that is itself trusted; the first
// untrusted element is the client. If every element is trusted, the leftmost
// one is. Walking from the right means a client cannot spoof its address by
// sending its own header: a trusted proxy appends the real peer after
// whatever the client sent.
//
// The headers are consulted in this order, and only the first one present is
// used: X-Forwarded-For (all its lines, in order), Forwarded (RFC 7239; the
// for= parameter of each element), X-Real-IP (a single address). A proxy in
// front of ipintel must therefore overwrite or append the header it uses
// and drop the ones it does not. With no header, the peer itself is the
// client.
//
// With no trusted networks given, [Loopback] is trusted. Pass an empty,
// non-nil slice to trust nothing. Elements may carry a port
// ("192.0.2.1:8080", "[2001:db8::1]:443"); IPv4-mapped IPv6 addresses
// are unmapped, and zones are dropped, so the address returned is never
// zoned (see the package documentation's "Client address"). The error is
// an [*AddrError].
func ClientAddr(r *http.Request, trusted ...netip.Prefix) (netip.Addr, error) {
	if trusted == nil {
		trusted = loopback
	}
	peer, err := parseHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, &AddrError{Value: r.RemoteAddr, Err: err}
	}
	if !contains(trusted, peer) {
		return peer, nil
	}
	if vs := r.Header.Values("X-Forwarded-For"); len(vs) > 0 {
		return walkXFF(vs, peer, trusted)
	}
	if vs := r.Header.Values("Forwarded"); len(vs) > 0 {
		return walkForwarded(vs, peer, trusted)
	}
	if v := r.Header.Get("X-Real-IP"); v != "" {
		a, err := parseHostPort(strings.TrimSpace(v))
		if err != nil {
			return netip.Addr{}, &AddrError{Header: "X-Real-IP", Value: v, Err: err}
		}
		return a, nil
	}
	return peer, nil
}

// HasForwardingHeader reports whether r carries any of the headers
// [ClientAddr] reads.
func HasForwardingHeader(r *http.Request) bool {
	h := r.Header
	return len(h["X-Forwarded-For"]) > 0 || len(h["Forwarded"]) > 0 || len(h["X-Real-Ip"]) > 0
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// walkXFF walks the comma-separated elements of the X-Forwarded-For lines
// from the right.
func walkXFF(lines []string, last netip.Addr, trusted []netip.Prefix) (netip.Addr, error) {
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for rest != "" {
			var elem string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				elem, rest = rest[j+1:], rest[:j]
			} else {
				elem, rest = rest, ""
			}
			elem = strings.TrimSpace(elem)
			if elem == "" {
				continue // "a, , b" and trailing commas carry no hop
			}
			a, err := parseHostPort(elem)
			if err != nil {
				return netip.Addr{}, &AddrError{Header: "X-Forwarded-For", Value: elem, Err: err}
			}
			if !contains(trusted, a) {
				return a, nil
			}
			last = a
		}
	}
	return last, nil
}

// walkForwarded walks the elements of the Forwarded lines (RFC 7239 §4)
// from the right and reads each one's for= parameter.
func walkForwarded(lines []string, last netip.Addr, trusted []netip.Prefix) (netip.Addr, error) {
	for i := len(lines) - 1; i >= 0; i-- {
		elems := splitQuoted(lines[i], ',')
		for j := len(elems) - 1; j >= 0; j-- {
			elem := strings.TrimSpace(elems[j])
			if elem == "" {
				continue
			}
			v, ok := forwardedFor(elem)
			if !ok {
				return netip.Addr{}, &AddrError{Header: "Forwarded", Value: elem, Err: errNoFor}
			}
			if strings.EqualFold(v, "unknown") || strings.HasPrefix(v, "_") {
				// RFC 7239 §6.2, §6.3: the proxy hid or did not know the hop.
				return netip.Addr{}, &AddrError{Header: "Forwarded", Value: elem, Err: errUnknownNode}
			}
			a, err := parseHostPort(v)
			if err != nil {
				return netip.Addr{}, &AddrError{Header: "Forwarded", Value: elem, Err: err}
			}
			if !contains(trusted, a) {
				return a, nil
			}
			last = a
		}
	}
	return last, nil
}

// forwardedFor returns the unquoted value of the for= pair of one
// Forwarded element ("for=192.0.2.60;proto=http;by=203.0.113.43").
func forwardedFor(elem string) (string, bool) {
	for _, pair := range splitQuoted(elem, ';') {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = strings.ReplaceAll(v[1:len(v)-1], `\`, "")
		}
		return v, true
	}
	return "", false
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == sep && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseHostPort parses "addr", "addr:port", "[addr]" or "[addr]:port",
// unmaps IPv4-mapped IPv6 and drops any zone.
func parseHostPort(s string) (netip.Addr, error) {
	host := s
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, errors.New("missing ]")
		}
		host = s[1:end]
		if tail := s[end+1:]; tail != "" && !validPort(tail) {
			return netip.Addr{}, fmt.Errorf("bad port %q", tail)
		}
	case strings.Count(s, ":") == 1:
		h, p, _ := strings.Cut(s, ":")
		if !validPort(":" + p) {
			return netip.Addr{}, fmt.Errorf("bad port %q", p)
		}
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, err
	}
	return a.WithZone("").Unmap(), nil
}

// validPort reports whether s is ":" followed by 1-5 digits.
func validPort(s string) bool {
	if len(s) < 2 || len(s) > 6 || s[0] != ':' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
