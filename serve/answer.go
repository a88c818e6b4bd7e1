package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/ipintel/ipintel/lookup"
)

// Answer is the JSON object that GET /v1/ip/{addr} returns and "ipintel
// lookup" prints per address (docs/design.md §7, §8): the MMDB keys of §2
// plus ip, found, network and action. The field order is the key order;
// [AppendAnswer] writes the same bytes without reflection, and a test keeps
// the two in step. Every key is always
// present, unlike in the MMDB where only true booleans are stored: false,
// 0 and "" stand for absent.
//
// risk_score is the score the action was decided on, and
// risk_score_source says whose it is: "stored" (the file's risk_score) or
// "policy" (computed from the categories, because the file stores none, as
// MaxMind's Anonymous IP files do).
//
// An Answer is a plain value: Go clients of the API decode into it, and it
// may be copied.
type Answer struct {
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
	IsRelay            bool     `json:"is_relay"`
	IsAllowlisted      bool     `json:"is_allowlisted"`
	ASN                uint32   `json:"autonomous_system_number"`
	ASOrg              string   `json:"autonomous_system_organization"`
	Provider           string   `json:"provider_name"`
	Confidence         uint8    `json:"anonymizer_confidence"`
	LastSeen           string   `json:"network_last_seen"`  // YYYY-MM-DD or ""
	FirstSeen          string   `json:"network_first_seen"` // YYYY-MM-DD or ""
	RiskScore          uint8    `json:"risk_score"`
	RiskScoreSource    string   `json:"risk_score_source"`
	Sources            []string `json:"sources"` // [] when none
	Action             string   `json:"action"`
}

// NewAnswer fills an Answer from a lookup result and the policy's verdict
// on it; sources are the names of rec.Sources ([lookup.DB.SourceNames]).
func NewAnswer(addr netip.Addr, rec lookup.Record, found bool, sources []string, v lookup.Verdict) Answer {
	c := rec.Categories
	a := Answer{
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
		IsRelay:            c&lookup.CategoryRelay != 0,
		IsAllowlisted:      c&lookup.CategoryAllow != 0,
		ASN:                rec.ASN,
		ASOrg:              rec.Org,
		Provider:           rec.Provider,
		Confidence:         rec.Confidence,
		LastSeen:           rec.LastSeen.String(),
		FirstSeen:          rec.FirstSeen.String(),
		RiskScore:          v.Score,
		RiskScoreSource:    v.Source.String(),
		Sources:            sources,
		Action:             v.Action.String(),
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

// AppendAnswer appends the JSON of [NewAnswer](addr, rec, found, sources,
// v) to b, exactly as encoding/json would write it, without allocating.
func AppendAnswer(b []byte, addr netip.Addr, rec lookup.Record, found bool, sources []string, v lookup.Verdict) []byte {
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
	b = appendBoolField(b, "is_relay", c&lookup.CategoryRelay != 0)
	b = appendBoolField(b, "is_allowlisted", c&lookup.CategoryAllow != 0)
	b = append(b, `,"autonomous_system_number":`...)
	b = strconv.AppendUint(b, uint64(rec.ASN), 10)
	b = append(b, `,"autonomous_system_organization":`...)
	b = appendJSONString(b, rec.Org)
	b = append(b, `,"provider_name":`...)
	b = appendJSONString(b, rec.Provider)
	b = append(b, `,"anonymizer_confidence":`...)
	b = strconv.AppendUint(b, uint64(rec.Confidence), 10)
	b = append(b, `,"network_last_seen":`...)
	b = appendDate(b, rec.LastSeen)
	b = append(b, `,"network_first_seen":`...)
	b = appendDate(b, rec.FirstSeen)
	b = append(b, `,"risk_score":`...)
	b = strconv.AppendUint(b, uint64(v.Score), 10)
	b = append(b, `,"risk_score_source":"`...)
	b = append(b, v.Source.String()...)
	b = append(b, `","sources":`...)
	b = appendSourcesJSON(b, sources)
	b = append(b, `,"action":"`...)
	b = append(b, v.Action.String()...)
	b = append(b, `"}`...)
	return b
}

// appendDate appends d as a JSON string, "YYYY-MM-DD" or "" for the
// zero Date, without allocating.
func appendDate(b []byte, d lookup.Date) []byte {
	if d.IsZero() {
		return append(b, `""`...)
	}
	b = append(b, '"')
	b = d.Time().AppendFormat(b, "2006-01-02")
	return append(b, '"')
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

// ParseAddr parses an address a user or a client gives to be looked up:
// exactly one address, no zone (a zoned address is not a public address,
// docs/design.md §5), IPv4-mapped IPv6 unmapped so that it matches the
// IPv4 networks. The CLI and the HTTP API share it.
func ParseAddr(s string) (netip.Addr, error) {
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
