package feeds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// The json format reads the address lists that cloud providers and crawler
// operators publish as JSON, whatever their shape:
//
//	{"syncToken": "1753388594", "prefixes": [{"ip_prefix": "3.4.12.4/32", "region": "eu-west-1", …}, …],
//	 "ipv6_prefixes": [{"ipv6_prefix": "2600:1f69:7400::/40", …}, …]}          AWS ip-ranges.json
//	{"creationTime": "…", "prefixes": [{"ipv4Prefix": "66.249.64.0/27"}, …]}   Google, OpenAI, Apple
//	{"values": [{"name": "ActionGroup", "properties": {"addressPrefixes": ["4.145.74.52/30", …]}}]}
//	{"addresses": ["23.235.32.0/20", …], "ipv6_addresses": ["2a04:4e40::/32"]} Fastly
//
// One record is one string value, at any depth, that is an address or a
// CIDR (netip syntax; IPv4-mapped addresses are unmapped and host bits
// masked): an address yields its host prefix. Object keys are never
// records, nor are numbers, booleans and nulls. Every other string is
// ignored, neither a record nor a bad line, since descriptions, regions and
// dates sit beside the addresses. Two rules keep look-alikes out:
//
//   - a value is read only when it is an address or CIDR as a whole: no
//     ranges, no ports, no addresses inside longer text;
//   - a value under a key whose name contains "version", in any case, is
//     never read: "version": "1.2.3.4" is a software version that happens
//     to parse as an IPv4 address, not a network to list.
//
// With Options.JSONKeys only the string values whose object key is one of
// those names are read (for an array, the key that holds it, through
// nested arrays). Those values are meant to be addresses: one that is not
// is a bad line, and an empty string is skipped. Monosans' proxies.json,
// for instance, lists the address a proxy listens on ("host") and the one
// its traffic leaves from ("exit_ip"); JSONKeys ["exit_ip"] keeps only the
// addresses that websites see.
//
// A document with no address at all, such as an API's error object, is not
// the feed: Parse returns an error wrapping [ErrNotFeed]. A JSON syntax
// error ends the parse with an error naming its line, after the records
// before it. Several documents may follow one another (NDJSON).
//
// The input is read token by token with a json.Decoder, so memory does not
// grow with the size of the document: Azure's 4 MB ServiceTags file is
// never held whole.

func init() { register(FormatJSON, parseJSON) }

var (
	errJSONNoAddress = fmt.Errorf("%w: no address in the JSON document", ErrNotFeed)
	errJSONNotString = errors.New("value is not a string")
)

// jsonFrame is one open object or array of the document being read.
type jsonFrame struct {
	object  bool
	wantKey bool   // object: the next token is a key
	key     string // object: the current key; array: the key that holds it
}

// maxJSONAddrLen is longer than any address or CIDR netip accepts without
// a zone ("ffff:…:255.255.255.255/128" is 49 bytes): longer strings are
// text and are not parsed.
const maxJSONAddrLen = 64

func parseJSON(r io.Reader, p *parser) error {
	lc := &jsonLines{r: r}
	dec := json.NewDecoder(lc)
	dec.UseNumber() // numbers are skipped: do not parse them as floats
	keys := p.opts.JSONKeys
	var stack []jsonFrame
	for {
		tok, err := dec.Token()
		line := lc.lineAt(dec.InputOffset())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("line %d: json: %w", line, err)
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = jsonPop(stack)
				continue
			}
			top.key, _ = tok.(string) // the decoder only gives strings here
			top.wantKey = false
			continue
		}
		key := ""
		if top != nil {
			key = top.key
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, jsonFrame{object: true, wantKey: true})
			case '[':
				stack = append(stack, jsonFrame{key: key})
			default:
				stack = jsonPop(stack)
			}
			continue
		case string:
			jsonValue(p, keys, key, t, line)
		case nil:
			if len(keys) > 0 && slices.Contains(keys, key) {
				p.stats.Skipped++
			}
		default:
			if len(keys) > 0 && slices.Contains(keys, key) {
				p.bad(line, fmt.Append(nil, t), errJSONNotString)
			}
		}
		if top != nil && top.object {
			top.wantKey = true
		}
	}
	if p.stats.Records == 0 {
		return errJSONNoAddress
	}
	return nil
}

// jsonPop closes the innermost object or array; the object holding it, if
// any, then expects its next key.
func jsonPop(stack []jsonFrame) []jsonFrame {
	if len(stack) > 0 {
		stack = stack[:len(stack)-1]
	}
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].wantKey = true
	}
	return stack
}

// jsonValue reads one string value s found under key on line.
func jsonValue(p *parser, keys []string, key, s string, line int) {
	if len(keys) == 0 {
		if len(s) > maxJSONAddrLen || containsFold(key, "version") {
			return
		}
		if pfx, err := addrOrPrefix(s); err == nil {
			p.stats.Records++
			p.emit(Entry{Prefix: pfx, Line: line})
		}
		return
	}
	if !slices.Contains(keys, key) {
		return
	}
	if s == "" {
		p.stats.Skipped++
		return
	}
	pfx, err := addrOrPrefix(s)
	if err != nil {
		p.bad(line, []byte(s), err)
		return
	}
	p.stats.Records++
	p.emit(Entry{Prefix: pfx, Line: line})
}

// addrOrPrefix parses an address (giving its host prefix) or a CIDR,
// normalised.
func addrOrPrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') >= 0 {
		return ParsePrefix(s)
	}
	a, err := ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return HostPrefix(a), nil
}

// containsFold reports whether s contains the lower-case ASCII word sub in
// any case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && s[i+j]|0x20 == sub[j] {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// skipJSONValue reads from dec the rest of a value whose first token tok
// has been read: nothing for a scalar, up to the matching close for an
// object or an array. each, when not nil, is called after every token.
func skipJSONValue(dec *json.Decoder, tok json.Token, each func()) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if each != nil {
			each()
		}
	}
	return nil
}
