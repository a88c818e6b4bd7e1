package feeds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// The ipverse-json format: ipverse/asn-ip's per-ASN aggregated.json,
//
//	{"asn": 208172, "handle": "PV-HOSTED", "description": "Proton AG",
//	 "subnets": {"ipv4": ["81.27.86.0/24", …], "ipv6": […]}}
//
// One record is one CIDR of subnets (any key under subnets is read, not
// only ipv4 and ipv6). Entries carry the document's asn and description
// (as Org), whatever the key order. The input may hold several such
// objects one after another, or a top-level array of them. Unknown keys
// are ignored. A subnet that is not a valid network is a bad line; a JSON
// syntax error ends the parse with an error naming its line, because
// nothing after it can be trusted.
//
// The document is read with a json.Decoder token by token, so only one
// object's subnets are held at a time.

func init() { register(FormatIPVerseJSON, parseIPVerse) }

var errSubnetNotString = errors.New("subnet is not a string")

func parseIPVerse(r io.Reader, p *parser) error {
	lc := &lineCounter{r: r}
	dec := json.NewDecoder(lc)
	dec.UseNumber()
	v := &ipverseReader{dec: dec, lc: lc, p: p}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return v.syntax(err)
		}
		switch tok {
		case json.Delim('{'):
			if err := v.object(); err != nil {
				return err
			}
		case json.Delim('['):
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return v.syntax(err)
				}
				if tok != json.Delim('{') {
					return fmt.Errorf("line %d: array element is %v, not an object", v.line(), tok)
				}
				if err := v.object(); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return v.syntax(err)
			}
		default:
			return fmt.Errorf("line %d: top-level value %v is not an object or array", v.line(), tok)
		}
	}
}

// ipverseReader walks the token stream of one ipverse-json input.
type ipverseReader struct {
	dec     *json.Decoder
	lc      *lineCounter
	p       *parser
	pending []Entry // this object's entries, emitted once asn is known
	records int     // this object's records so far
	nets    []netip.Prefix
}

// line returns the line of the last token read.
func (v *ipverseReader) line() int { return v.lc.line(v.dec.InputOffset() - 1) }

func (v *ipverseReader) syntax(err error) error {
	return fmt.Errorf("line %d: json: %w", v.line(), err)
}

// object reads the members of one object whose '{' has been read.
func (v *ipverseReader) object() error {
	v.pending, v.records = v.pending[:0], 0
	var asn uint32
	var org string
	for v.dec.More() {
		key, err := v.dec.Token()
		if err != nil {
			return v.syntax(err)
		}
		switch key {
		case "asn":
			var raw json.RawMessage
			if err := v.dec.Decode(&raw); err != nil {
				return v.syntax(err)
			}
			n, err := parseJSONASN(raw)
			if err != nil {
				v.p.bad(v.line(), raw, err)
				continue
			}
			asn = n
		case "description":
			var raw json.RawMessage
			if err := v.dec.Decode(&raw); err != nil {
				return v.syntax(err)
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				org = s
			}
		case "subnets":
			if err := v.subnets(); err != nil {
				return err
			}
		default:
			var raw json.RawMessage
			if err := v.dec.Decode(&raw); err != nil {
				return v.syntax(err)
			}
		}
	}
	if _, err := v.dec.Token(); err != nil { // '}'
		return v.syntax(err)
	}
	// Emit and count only now, when the object is complete: a document
	// cut short yields nothing.
	v.p.stats.Records += v.records
	for _, e := range v.pending {
		e.ASN, e.Org = asn, org
		v.p.emit(e)
	}
	return nil
}

// subnets reads the value of "subnets": an object of arrays of CIDRs.
func (v *ipverseReader) subnets() error {
	tok, err := v.dec.Token()
	if err != nil {
		return v.syntax(err)
	}
	if tok != json.Delim('{') {
		if err := v.skipRest(tok); err != nil {
			return err
		}
		v.p.bad(v.line(), []byte("subnets"), errors.New("subnets is not an object"))
		return nil
	}
	for v.dec.More() {
		if _, err := v.dec.Token(); err != nil { // key: ipv4, ipv6, …
			return v.syntax(err)
		}
		tok, err := v.dec.Token()
		if err != nil {
			return v.syntax(err)
		}
		if tok != json.Delim('[') {
			if err := v.skipRest(tok); err != nil {
				return err
			}
			v.p.bad(v.line(), []byte(fmt.Sprint(tok)), errors.New("subnet list is not an array"))
			continue
		}
		for v.dec.More() {
			tok, err := v.dec.Token()
			if err != nil {
				return v.syntax(err)
			}
			s, ok := tok.(string)
			if !ok {
				if err := v.skipRest(tok); err != nil {
					return err
				}
				v.p.bad(v.line(), []byte(fmt.Sprint(tok)), errSubnetNotString)
				continue
			}
			n := v.line()
			if v.nets, err = ParseNet(v.nets[:0], s); err != nil {
				v.p.bad(n, []byte(s), err)
				continue
			}
			v.records++
			for _, pfx := range v.nets {
				v.pending = append(v.pending, Entry{Prefix: pfx, Line: n})
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

// skipRest skips the rest of a value whose first token tok has been read.
func (v *ipverseReader) skipRest(tok json.Token) error {
	if err := skipJSONValue(v.dec, tok, nil); err != nil {
		return v.syntax(err)
	}
	return nil
}

// parseJSONASN reads an ASN written as a JSON number or as a string such
// as "13335" or "AS13335".
func parseJSONASN(raw json.RawMessage) (uint32, error) {
	s := string(bytes.TrimSpace(raw))
	if u, err := strconv.Unquote(s); err == nil {
		s = strings.TrimPrefix(strings.TrimPrefix(u, "AS"), "as")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad asn: %w", err)
	}
	return uint32(n), nil
}

// lineCounter passes reads through and remembers where each newline is,
// so that a json.Decoder input offset can be turned into a line number.
// It holds one int64 per line, which is small for the JSON feeds it is
// used on.
type lineCounter struct {
	r   io.Reader
	off int64
	nl  []int64 // offsets of '\n' bytes, ascending
}

func (c *lineCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	for i, rest := 0, b[:n]; ; {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			break
		}
		c.nl = append(c.nl, c.off+int64(i+j))
		i += j + 1
		rest = rest[j+1:]
	}
	c.off += int64(n)
	return n, err
}

// line returns the 1-based line of the byte at offset off.
func (c *lineCounter) line(off int64) int {
	if off < 0 {
		off = 0
	}
	return 1 + sort.Search(len(c.nl), func(i int) bool { return c.nl[i] >= off })
}
