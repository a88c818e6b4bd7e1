package feeds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// The spamhaus-drop format covers both forms Spamhaus publishes DROP,
// EDROP and DROPv6 in:
//
//   - text: "1.10.16.0/20 ; SBL256894", with ';' comment lines (title,
//     Last-Modified, Expires, an optional "; EOF");
//   - NDJSON (drop_v4.json, drop_v6.json): one object per line,
//     {"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}, and a
//     final {"type":"metadata",…} line, which is neither a record nor
//     invalid.
//
// The form is decided per line: a line whose first non-blank byte is '{'
// is JSON, any other line is text. A file of comments only (EDROP after
// its 2024 merge into DROP) yields no entries and no error.

func init() { register(FormatSpamhausDrop, parseSpamhausDrop) }

var (
	errNoCIDR      = errors.New("json record has no cidr")
	errJSONNotCIDR = errors.New("json record has a non-string cidr")
)

// spamhausJSON is one NDJSON line; only the fields we use.
type spamhausJSON struct {
	Type any             `json:"type"`
	CIDR json.RawMessage `json:"cidr"`
}

func parseSpamhausDrop(r io.Reader, p *parser) error {
	var nets []netip.Prefix
	return eachLine(r, p, func(n int, line []byte) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] == '{' {
			var rec spamhausJSON
			if err := json.Unmarshal(t, &rec); err != nil {
				p.bad(n, line, fmt.Errorf("json: %w", err))
				return
			}
			if rec.Type == "metadata" {
				return
			}
			if len(rec.CIDR) == 0 || string(rec.CIDR) == "null" {
				p.bad(n, line, errNoCIDR)
				return
			}
			var s string
			if err := json.Unmarshal(rec.CIDR, &s); err != nil {
				p.bad(n, line, errJSONNotCIDR)
				return
			}
			var err error
			if nets, err = parseNetFast(nets[:0], s); err != nil {
				p.bad(n, line, err)
				return
			}
			acceptNets(p, n, nets)
			return
		}
		s := stripComment(t)
		if len(s) == 0 {
			return
		}
		var err error
		if nets, err = parseNetFast(nets[:0], string(s)); err != nil {
			p.bad(n, line, err)
			return
		}
		acceptNets(p, n, nets)
	})
}
