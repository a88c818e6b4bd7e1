package feeds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// The onionoo format is an Onionoo details document
// (https://metrics.torproject.org/onionoo.html#details):
//
//	{"version":"8.0", "relays_published":"…",
//	 "relays":[{"fingerprint":"…", "or_addresses":["1.2.3.4:9001","[2001:db8::1]:9001"],
//	            "exit_addresses":["1.2.3.5"], "flags":["Exit","Fast","Running"], …}, …],
//	 "bridges_published":"…", "bridges":[…]}
//
// A relay contributes its exit_addresses when it has any; otherwise its
// or_addresses (ports and IPv6 brackets stripped), but only when its flags
// include Exit. A relay flagged BadExit contributes nothing, as in the
// consensus. One record is one contributing relay; every other relay is
// counted in Stats.Skipped. An or_address of a relay that is not known to be
// an exit is not an exit address: documents fetched with a fields= filter
// that leaves out exit_addresses and flags yield no records.
//
// The document is streamed: the decoder walks the top-level object token by
// token and decodes one relay object at a time, so memory does not grow with
// the number of relays. Unknown fields are ignored and missing ones read as
// empty, but the relays key itself is required (Onionoo always writes it,
// if only as []), so that another JSON document is not read as an empty
// one. Bridges are never exits (their addresses are sanitised anyway) and
// are skipped unread. A bad address is reported with the line on which its
// relay object ends.

func init() { register(FormatOnionoo, parseOnionoo) }

var (
	errOnionooNotObject = errors.New("onionoo document is not a JSON object")
	errOnionooRelays    = errors.New("onionoo relays is not an array")
	errOnionooNoRelays  = errors.New("no relays key: not an Onionoo details document")
)

// onionooRelay holds the fields of a relay object that decide what it
// contributes; json ignores the others.
type onionooRelay struct {
	Fingerprint   string   `json:"fingerprint"`
	ORAddresses   []string `json:"or_addresses"`
	ExitAddresses []string `json:"exit_addresses"`
	Flags         []string `json:"flags"`
}

func parseOnionoo(r io.Reader, p *parser) error {
	lc := &jsonLines{r: r}
	dec := json.NewDecoder(lc)
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("onionoo: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errOnionooNotObject
	}
	sawRelays := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("onionoo: %w", err)
		}
		if key, _ := tok.(string); key == "relays" {
			sawRelays = true
			err = onionooRelays(dec, lc, p)
		} else {
			err = onionooSkip(dec, lc)
		}
		if err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("onionoo: %w", err)
	}
	if !sawRelays {
		return errOnionooNoRelays
	}
	return nil
}

// onionooRelays reads the relays array one relay object at a time.
func onionooRelays(dec *json.Decoder, lc *jsonLines, p *parser) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("onionoo relays: %w", err)
	}
	if tok == nil { // "relays": null
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errOnionooRelays
	}
	for i := 0; dec.More(); i++ {
		var relay onionooRelay
		err := dec.Decode(&relay)
		line := lc.lineAt(dec.InputOffset() - 1)
		if err != nil {
			// A type error leaves the decoder after the value; anything
			// else is a syntax or I/O error and ends the document.
			if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
				p.bad(line, fmt.Appendf(nil, "relay %d", i), err)
				continue
			}
			return fmt.Errorf("onionoo relay %d: %w", i, err)
		}
		onionooRelayEntries(&relay, line, p)
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return fmt.Errorf("onionoo relays: %w", err)
	}
	return nil
}

// onionooRelayEntries emits what one relay contributes.
func onionooRelayEntries(relay *onionooRelay, line int, p *parser) {
	exit, badExit := false, false
	for _, f := range relay.Flags {
		switch f {
		case "Exit":
			exit = true
		case "BadExit":
			badExit = true
		}
	}
	var addrs []string
	switch {
	case badExit:
	case len(relay.ExitAddresses) > 0:
		addrs = relay.ExitAddresses
	case exit:
		addrs = relay.ORAddresses
	}
	contributed := false
	for _, s := range addrs {
		addr, err := onionooAddr(s)
		if err != nil {
			p.bad(line, []byte(s), err)
			continue
		}
		if !contributed {
			p.stats.Records++
			contributed = true
		}
		p.emit(Entry{Prefix: HostPrefix(addr), Line: line})
	}
	if len(addrs) == 0 {
		p.stats.Skipped++
	}
}

// onionooAddr parses an Onionoo address: "1.2.3.4", "1.2.3.4:9001",
// "[2001:db8::1]:9001", "[2001:db8::1]" or "2001:db8::1".
func onionooAddr(s string) (netip.Addr, error) {
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return netip.Addr{}, fmt.Errorf("unclosed bracket in %q", s)
		}
		host, port = s[1:i], s[i+1:]
		if port != "" {
			if port[0] != ':' {
				return netip.Addr{}, fmt.Errorf("junk after bracket in %q", s)
			}
			port = port[1:]
			if port == "" {
				return netip.Addr{}, errTorPort
			}
		}
	case strings.Count(s, ":") == 1:
		i := strings.IndexByte(s, ':')
		host, port = s[:i], s[i+1:]
		if port == "" {
			return netip.Addr{}, errTorPort
		}
	}
	if port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return netip.Addr{}, errTorPort
		}
	}
	return ParseAddr(host)
}

// onionooSkip reads and drops the next value, token by token, so a large
// array (Onionoo's bridges) is never held in memory.
func onionooSkip(dec *json.Decoder, lc *jsonLines) error {
	passed := func() { lc.lineAt(dec.InputOffset()) } // drop the newlines passed
	tok, err := dec.Token()
	if err == nil {
		passed()
		err = skipJSONValue(dec, tok, passed)
	}
	if err != nil {
		return fmt.Errorf("onionoo: %w", err)
	}
	return nil
}

// jsonLines passes reads through and remembers where the newlines are,
// so that a byte offset of the decoder (json.Decoder.InputOffset) can be
// turned into a 1-based line. Offsets must be asked in increasing order;
// only the newlines read ahead of the last offset asked are kept.
type jsonLines struct {
	r      io.Reader
	read   int64   // bytes read so far
	nl     []int64 // offsets of the newlines not yet passed
	passed int     // newlines before the last offset asked
}

func (lc *jsonLines) Read(b []byte) (int, error) {
	n, err := lc.r.Read(b)
	chunk := b[:n]
	base := lc.read
	for {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			break
		}
		if len(lc.nl) == cap(lc.nl) && len(lc.nl) > 0 {
			lc.nl = append(lc.nl[:0:0], lc.nl...) // let passed ones go
		}
		lc.nl = append(lc.nl, base+int64(i))
		base += int64(i) + 1
		chunk = chunk[i+1:]
	}
	lc.read += int64(n)
	return n, err
}

// lineAt returns the 1-based line holding the byte at offset off.
func (lc *jsonLines) lineAt(off int64) int {
	i := 0
	for i < len(lc.nl) && lc.nl[i] < off {
		i++
	}
	lc.passed += i
	lc.nl = lc.nl[i:]
	return lc.passed + 1
}
