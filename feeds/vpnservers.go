package feeds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The vpn-servers format is gluetun's servers.json, the server lists of
// twenty-odd VPN providers as gluetun compiles them from each provider's
// API or configuration bundle:
//
//	{"version": 1,
//	 "mullvad": {"version": 3, "timestamp": 1681000000,
//	             "servers": [{"vpn": "wireguard", "country": "Sweden", "hostname": "se-got-wg-001",
//	                          "ips": ["185.213.154.68", "2a03:1b20:5:f011::a01f"], …}, …]},
//	 "private internet access": {…}, …}
//
// Every member of the top-level object whose value is an object is a
// provider; the others ("version") are skipped. Each server of a
// provider's servers array contributes the addresses of its ips, ip,
// entry_ip and ipsv6 fields (each a string or an array of strings; the
// field names have changed over gluetun's history), without repeating an
// address the same server lists twice. Every entry carries the provider's
// display name in Entry.Provider: gluetun's keys are lower-case ids, so
// the known ones are mapped to the providers' own spelling ("NordVPN",
// "Private Internet Access") and others are title-cased.
//
// One record is one server that contributes an address; a server with
// none (gluetun writes "ips": [""] for a few) is counted in Stats.Skipped.
// An address that does not parse is a bad line, reported with the line on
// which its server object ends. A document without a single address is
// not the feed ([ErrNotFeed]); a JSON syntax error ends the parse.
//
// The file is several megabytes: it is read token by token, one server
// object decoded at a time.

func init() { register(FormatVPNServers, parseVPNServers) }

var (
	errVPNNoAddress  = fmt.Errorf("%w: no VPN server address", ErrNotFeed)
	errVPNNotObject  = fmt.Errorf("%w: top level is not a JSON object", ErrNotFeed)
	errVPNServers    = errors.New("servers is not an array")
	errVPNAddrType   = errors.New("address field is not a string or an array of strings")
	errVPNServerType = errors.New("server is not an object")
)

// vpnServer holds the address fields of one server; the others are
// ignored.
type vpnServer struct {
	IPs     json.RawMessage `json:"ips"`
	IP      json.RawMessage `json:"ip"`
	EntryIP json.RawMessage `json:"entry_ip"`
	IPsV6   json.RawMessage `json:"ipsv6"`
}

// vpnReader walks the token stream of one servers.json.
type vpnReader struct {
	dec   *json.Decoder
	lc    *jsonLines
	p     *parser
	addrs []netip.Addr // the current server's addresses
}

func (v *vpnReader) line() int { return v.lc.lineAt(v.dec.InputOffset()) }

func (v *vpnReader) syntax(err error) error {
	return fmt.Errorf("line %d: json: %w", v.line(), err)
}

func parseVPNServers(r io.Reader, p *parser) error {
	lc := &jsonLines{r: r}
	dec := json.NewDecoder(lc)
	dec.UseNumber()
	v := &vpnReader{dec: dec, lc: lc, p: p}
	tok, err := dec.Token()
	if err != nil {
		return v.syntax(err)
	}
	if tok != json.Delim('{') {
		return errVPNNotObject
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return v.syntax(err)
		}
		tok, err := dec.Token()
		if err != nil {
			return v.syntax(err)
		}
		if tok != json.Delim('{') {
			if err := v.skipRest(tok); err != nil {
				return err
			}
			continue
		}
		name, _ := key.(string)
		if err := v.provider(vpnProviderName(name)); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return v.syntax(err)
	}
	if p.stats.Records == 0 {
		return errVPNNoAddress
	}
	return nil
}

// provider reads the members of one provider object, whose '{' has been
// read.
func (v *vpnReader) provider(name string) error {
	for v.dec.More() {
		key, err := v.dec.Token()
		if err != nil {
			return v.syntax(err)
		}
		tok, err := v.dec.Token()
		if err != nil {
			return v.syntax(err)
		}
		if key != "servers" || tok == nil {
			if err := v.skipRest(tok); err != nil {
				return err
			}
			continue
		}
		if tok != json.Delim('[') {
			if err := v.skipRest(tok); err != nil {
				return err
			}
			v.p.bad(v.line(), []byte(name), errVPNServers)
			continue
		}
		for v.dec.More() {
			if err := v.server(name); err != nil {
				return err
			}
		}
		if _, err := v.dec.Token(); err != nil { // ']'
			return v.syntax(err)
		}
	}
	if _, err := v.dec.Token(); err != nil { // '}'
		return v.syntax(err)
	}
	return nil
}

// server decodes one element of a servers array and emits its addresses.
func (v *vpnReader) server(provider string) error {
	var s vpnServer
	err := v.dec.Decode(&s)
	line := v.line()
	if err != nil {
		// A type error leaves the decoder after the value; anything
		// else is a syntax or I/O error and ends the document.
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			v.p.bad(line, []byte(provider), errVPNServerType)
			return nil
		}
		return fmt.Errorf("line %d: json: %w", line, err)
	}
	v.addrs = v.addrs[:0]
	for _, raw := range []json.RawMessage{s.IPs, s.IP, s.EntryIP, s.IPsV6} {
		v.field(raw, line)
	}
	if len(v.addrs) == 0 {
		v.p.stats.Skipped++
		return nil
	}
	v.p.stats.Records++
	for _, a := range v.addrs {
		v.p.emit(Entry{Prefix: HostPrefix(a), Provider: provider, Line: line})
	}
	return nil
}

// field adds the addresses of one address field: a string, an array of
// strings or null. Empty strings are no address; other strings that do not
// parse are bad lines.
func (v *vpnReader) field(raw json.RawMessage, line int) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var list []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		list = []string{one}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		v.p.bad(line, raw, errVPNAddrType)
		return
	}
	for _, s := range list {
		if s == "" {
			continue
		}
		a, err := ParseAddr(s)
		if err != nil {
			v.p.bad(line, []byte(s), err)
			continue
		}
		dup := false
		for _, b := range v.addrs {
			dup = dup || a == b
		}
		if !dup {
			v.addrs = append(v.addrs, a)
		}
	}
}

// skipRest skips the rest of a value whose first token tok has been read,
// letting the line counter pass the newlines it skips.
func (v *vpnReader) skipRest(tok json.Token) error {
	if err := skipJSONValue(v.dec, tok, func() { v.line() }); err != nil {
		return v.syntax(err)
	}
	return nil
}

// vpnProviders maps gluetun's provider keys to the providers' own names.
var vpnProviders = map[string]string{
	"airvpn":                  "AirVPN",
	"cyberghost":              "CyberGhost",
	"expressvpn":              "ExpressVPN",
	"fastestvpn":              "FastestVPN",
	"giganews":                "Giganews",
	"hidemyass":               "HideMyAss",
	"ipvanish":                "IPVanish",
	"ivpn":                    "IVPN",
	"mullvad":                 "Mullvad",
	"nordvpn":                 "NordVPN",
	"perfect privacy":         "Perfect Privacy",
	"privado":                 "Privado",
	"private internet access": "Private Internet Access",
	"privatevpn":              "PrivateVPN",
	"protonvpn":               "ProtonVPN",
	"purevpn":                 "PureVPN",
	"slickvpn":                "SlickVPN",
	"surfshark":               "Surfshark",
	"torguard":                "TorGuard",
	"vpn unlimited":           "VPN Unlimited",
	"vpnsecure":               "VPNSecure",
	"vyprvpn":                 "VyprVPN",
	"wevpn":                   "WeVPN",
	"windscribe":              "Windscribe",
}

// vpnProviderName returns the display name of a gluetun provider key: the
// provider's own spelling when known, otherwise the key with each word's
// first letter in upper case.
func vpnProviderName(key string) string {
	if name, ok := vpnProviders[strings.ToLower(strings.TrimSpace(key))]; ok {
		return name
	}
	words := strings.Fields(key)
	for i, w := range words {
		r, n := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[n:]
	}
	return strings.Join(words, " ")
}
