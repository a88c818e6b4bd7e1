package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/ipintel/ipintel/lookup"
)

// answer is the JSON object that "ipintel lookup" prints per address and
// that GET /v1/ip/{addr} returns (DESIGN.md §7, §8). The field order is the
// key order; appendAnswer writes the same bytes without reflection and
// TestAppendAnswerMatchesStruct keeps the two in step. Booleans are always
// present, unlike in the MMDB where only true ones are stored.
type answer struct {
	IP                 string   `json:"ip"`
	Found              bool     `json:"found"`
	Network            *string  `json:"network"` // null on a miss
	IsAnonymous        bool     `json:"is_anonymous"`
	IsAnonymousVPN     bool     `json:"is_anonymous_vpn"`
	IsHostingProvider  bool     `json:"is_hosting_provider"`
	IsPublicProxy      bool     `json:"is_public_proxy"`
	IsResidentialProxy bool     `json:"is_residential_proxy"`
	IsTorExitNode      bool     `json:"is_tor_exit_node"`
	IsAbuse            bool     `json:"is_abuse"`
	IsCrawler          bool     `json:"is_crawler"`
	IsAllowlisted      bool     `json:"is_allowlisted"`
	ASN                uint32   `json:"autonomous_system_number"`
	ASOrg              string   `json:"autonomous_system_organization"`
	RiskScore          uint8    `json:"risk_score"`
	Sources            []string `json:"sources"` // [] when none
	Action             string   `json:"action"`
}

// newAnswer fills an answer from a lookup result.
func newAnswer(addr netip.Addr, rec lookup.Record, found bool, sources []string, action lookup.Action) answer {
	c := rec.Categories
	a := answer{
		IP:                 addr.String(),
		Found:              found,
		IsAnonymous:        c&lookup.CategoryAnonymous != 0,
		IsAnonymousVPN:     c&lookup.CategoryVPN != 0,
		IsHostingProvider:  c&lookup.CategoryHosting != 0,
		IsPublicProxy:      c&lookup.CategoryPublicProxy != 0,
		IsResidentialProxy: c&lookup.CategoryResidentialProxy != 0,
		IsTorExitNode:      c&lookup.CategoryTorExit != 0,
		IsAbuse:            c&lookup.CategoryAbuse != 0,
		IsCrawler:          c&lookup.CategoryCrawler != 0,
		IsAllowlisted:      c&lookup.CategoryAllow != 0,
		ASN:                rec.ASN,
		ASOrg:              rec.Org,
		RiskScore:          rec.Score,
		Sources:            sources,
		Action:             action.String(),
	}
	if found {
		s := rec.Network.String()
		a.Network = &s
	}
	if a.Sources == nil {
		a.Sources = []string{}
	}
	return a
}

// appendAnswer appends the JSON of newAnswer(addr, rec, found, …) to b,
// without allocating.
func appendAnswer(b []byte, addr netip.Addr, rec lookup.Record, found bool, sources []string, action lookup.Action) []byte {
	c := rec.Categories
	b = append(b, `{"ip":"`...)
	b = addr.AppendTo(b)
	b = append(b, `","found":`...)
	b = strconv.AppendBool(b, found)
	b = append(b, `,"network":`...)
	if found {
		b = append(b, '"')
		b = rec.Network.AppendTo(b)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = appendBoolField(b, "is_anonymous", c&lookup.CategoryAnonymous != 0)
	b = appendBoolField(b, "is_anonymous_vpn", c&lookup.CategoryVPN != 0)
	b = appendBoolField(b, "is_hosting_provider", c&lookup.CategoryHosting != 0)
	b = appendBoolField(b, "is_public_proxy", c&lookup.CategoryPublicProxy != 0)
	b = appendBoolField(b, "is_residential_proxy", c&lookup.CategoryResidentialProxy != 0)
	b = appendBoolField(b, "is_tor_exit_node", c&lookup.CategoryTorExit != 0)
	b = appendBoolField(b, "is_abuse", c&lookup.CategoryAbuse != 0)
	b = appendBoolField(b, "is_crawler", c&lookup.CategoryCrawler != 0)
	b = appendBoolField(b, "is_allowlisted", c&lookup.CategoryAllow != 0)
	b = append(b, `,"autonomous_system_number":`...)
	b = strconv.AppendUint(b, uint64(rec.ASN), 10)
	b = append(b, `,"autonomous_system_organization":`...)
	b = appendJSONString(b, rec.Org)
	b = append(b, `,"risk_score":`...)
	b = strconv.AppendUint(b, uint64(rec.Score), 10)
	b = append(b, `,"sources":`...)
	b = appendSourcesJSON(b, sources)
	b = append(b, `,"action":"`...)
	b = append(b, action.String()...)
	b = append(b, `"}`...)
	return b
}

func appendBoolField(b []byte, key string, v bool) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendBool(b, v)
}

// appendSourcesJSON appends names as a JSON array of strings.
func appendSourcesJSON(b []byte, names []string) []byte {
	b = append(b, '[')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped exactly as
// encoding/json escapes it (HTML-safe, invalid UTF-8 as U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var (
	errZoned = errors.New("zoned address not allowed")
	errEmpty = errors.New("empty address")
)

// parseQueryAddr parses an address given by a user or a client: no zone,
// IPv4-mapped IPv6 unmapped (STYLE.md §7).
func parseQueryAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errEmpty
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: %w", s, errZoned)
	}
	return a.Unmap(), nil
}

// marshalLine returns v as one line of JSON.
func marshalLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return append(b, '\n'), nil
}

// marshalIndent returns v as indented JSON ending in a newline.
func marshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return append(b, '\n'), nil
}
