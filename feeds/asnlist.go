package feeds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The asn-list format is a list of AS numbers, the prefixes of which come
// from the asn feeds at build time. Three families are read, recognised line
// by line so that they need no option:
//
//	AS45090 # Tencent cloud computing        X4BNet ASN.txt: AS number (or bare
//	64496                                    number), optional '#' or ';' comment
//
//	ASN,Entity                               brianhama bad-asn-list CSV: header,
//	198375,"INULOGIC SARL, FR"               then number, entity
//	51447, "RootLayer Web Services Ltd, NL"
//
//	{"asn":932,"rir":"arin","domain":"xn.net","cc":"US","asname":"XNNET"}
//	{"type":"metadata","timestamp":1709006105,…}   Spamhaus ASN-DROP NDJSON
//
// The CSV is hand-edited and not RFC 4180 clean (a space before an opening
// quote, a space after a closing one, quoted numbers), so a line is split at
// its first comma and both halves are trimmed of spaces and quotes, with
// doubled quotes inside the entity undone. A line is CSV when it has a comma
// before any comment character. The first line whose first field holds no
// digit is taken for a header. The Spamhaus metadata line is neither a
// record nor invalid.
//
// One record is one listed AS, duplicates included; each yields an Entry
// with ASN and Org (the comment, entity or asname) and the zero Prefix.

func init() { register(FormatASNList, parseASNList) }

var (
	errASNZero      = errors.New("AS 0 is reserved (RFC 7607)")
	errASNListExtra = errors.New("more than one field before the comment")
	errASNListJSON  = errors.New("JSON line without an asn")
)

// utf8BOM is the byte order mark some editors put at the start of a file.
var utf8BOM = []byte("\xef\xbb\xbf")

func parseASNList(r io.Reader, p *parser) error {
	seen := false // a data line (or header) was read
	return eachLine(r, p, func(n int, line []byte) {
		if n == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || t[0] == ';' {
			return
		}
		first := !seen
		seen = true
		var (
			asn uint32
			org string
			err error
		)
		comma := bytes.IndexByte(t, ',')
		comment := bytes.IndexAny(t, "#;")
		switch {
		case t[0] == '{':
			var ok bool
			asn, org, ok, err = asnListJSON(t)
			if err == nil && !ok {
				return // the metadata line
			}
		case comma >= 0 && (comment < 0 || comma < comment):
			key := asnListTrim(t[:comma])
			if first && !bytes.ContainsAny(key, "0123456789") {
				return // the header row
			}
			asn, err = parseASNToken(string(key))
			org = asnListEntity(t[comma+1:])
		default:
			tok := t
			if comment >= 0 {
				tok = bytes.TrimSpace(t[:comment])
				org = string(bytes.TrimSpace(t[comment+1:]))
			}
			if bytes.ContainsAny(tok, " \t") {
				err = errASNListExtra
				break
			}
			asn, err = parseASNToken(string(tok))
		}
		if err == nil && asn == 0 {
			err = errASNZero
		}
		if err != nil {
			p.bad(n, line, err)
			return
		}
		p.stats.Records++
		p.emit(Entry{ASN: asn, Org: org, Line: n})
	})
}

// asnListTrim trims spaces and then double quotes around a CSV field.
func asnListTrim(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = bytes.TrimSpace(b[1 : len(b)-1])
	}
	return b
}

// asnListEntity returns the entity half of a CSV line, unquoted.
func asnListEntity(b []byte) string {
	b = asnListTrim(b)
	if bytes.Contains(b, []byte(`""`)) {
		b = bytes.ReplaceAll(b, []byte(`""`), []byte(`"`))
	}
	return string(b)
}

// asnListJSON reads one Spamhaus ASN-DROP line. It reports ok false, with no
// error, for the metadata line.
func asnListJSON(line []byte) (asn uint32, org string, ok bool, err error) {
	var rec struct {
		ASN    json.RawMessage `json:"asn"`
		Type   string          `json:"type"`
		ASName string          `json:"asname"`
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return 0, "", false, err
	}
	if rec.ASN == nil {
		if rec.Type == "metadata" {
			return 0, "", false, nil
		}
		return 0, "", false, errASNListJSON
	}
	s := string(rec.ASN)
	if len(s) > 0 && s[0] == '"' { // "AS932" or "932"
		if s, err = strconv.Unquote(s); err != nil {
			return 0, "", false, fmt.Errorf("bad asn %s: %w", rec.ASN, err)
		}
	}
	asn, err = parseASNToken(s)
	if err != nil {
		return 0, "", false, err
	}
	return asn, rec.ASName, true, nil
}
