package feeds

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseOnionoo(t *testing.T) {
	t.Parallel()
	tiRun(t, FormatOnionoo, []tiCase{
		{
			name: "exit_addresses, Exit flag, non-exits",
			in: `{"version":"8.0","relays_published":"2026-08-22 11:00:00",` + "\n" +
				`"relays":[` + "\n" +
				`{"fingerprint":"A","or_addresses":["9.9.9.9:443"],"exit_addresses":["1.2.3.4"]},` + "\n" +
				`{"fingerprint":"B","or_addresses":["5.6.7.8:9001","[2001:db8::1]:443"],"flags":["Exit","Running"]},` + "\n" +
				`{"fingerprint":"C","or_addresses":["5.6.7.9:9001"],"flags":["Fast","Running"]},` + "\n" +
				`{"fingerprint":"D","or_addresses":["5.6.7.10:9001"],"exit_addresses":["5.6.7.11"],"flags":["BadExit","Exit"]},` + "\n" +
				`{"fingerprint":"E","or_addresses":["5.6.7.12:9001"],"country":"de"}` + "\n" +
				`],` + "\n" + `"bridges_published":"2026-08-22 10:59:01","bridges":[{"or_addresses":["10.0.0.1:443"],"flags":["Exit"]}]}` + "\n",
			want:    []string{"3 1.2.3.4/32", "4 5.6.7.8/32", "4 2001:db8::1/128"},
			records: 2,
			skipped: 3,
		},
		{
			name: "pretty-printed, unknown fields of every type",
			in: "{\n  \"extra\": {\"a\": [1, {\"b\": null}], \"c\": true},\n  \"relays\": [\n    {\n" +
				"      \"nested\": {\"x\": [\"y\"]},\n      \"exit_addresses\": [\"8.8.8.8\", \"::ffff:8.8.4.4\"]\n    }\n  ]\n}\n",
			want:    []string{"7 8.8.8.8/32", "7 8.8.4.4/32"},
			records: 1,
		},
		{
			name: "bad addresses and a relay of the wrong type",
			in: `{"relays":[` + "\n" +
				`{"exit_addresses":["1.2.3"]},` + "\n" + // bad address: the relay contributes nothing
				`42,` + "\n" + // not an object
				`{"or_addresses":"1.2.3.4:1","flags":["Exit"]},` + "\n" + // a string, not an array
				`{"or_addresses":["1.2.3.4:99999","[2001:db8::1","[2001:db8::2]x","1.2.3.4:","4.3.2.1:80"],"flags":["Exit"]}` + "\n" +
				`]}`,
			want:    []string{"5 4.3.2.1/32"},
			records: 1,
			bad:     []int{2, 3, 4, 5, 5, 5, 5},
		},
		{
			name:    "exit without addresses and null relays",
			in:      `{"relays":[{"flags":["Exit"]},null]}`,
			skipped: 2,
		},
		{name: "relays null", in: `{"version":"8.0","relays":null}`},
		{name: "no relays key", in: `{"version":"8.0","bridges":[]}`, fatal: true},
		{
			name:    "truncated document",
			in:      `{"relays":[{"exit_addresses":["1.2.3.4"]},{"exit_addr`,
			want:    []string{"1 1.2.3.4/32"},
			records: 1,
			fatal:   true,
		},
		{name: "not an object", in: `["relays"]`, fatal: true},
		{name: "relays not an array", in: `{"relays":{"a":1}}`, fatal: true},
		{name: "empty", in: ``, fatal: true},
		{name: "CRLF", in: "{\r\n\"relays\":[\r\n{\"exit_addresses\":[\"1.2.3.4\"]}\r\n]}\r\n", want: []string{"3 1.2.3.4/32"}, records: 1},
	})
}

// refOnionoo unmarshals the whole document and applies the rule of
// docs/design.md §3 to each relay.
func refOnionoo(t *testing.T, data []byte) tiCounts {
	var doc struct {
		Relays []map[string]any `json:"relays"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("reference: %v", err)
	}
	strs := func(v any) []string {
		var out []string
		for _, s := range v.([]any) {
			out = append(out, s.(string))
		}
		return out
	}
	var c tiCounts
	pfxs := map[netip.Prefix]bool{}
	for _, r := range doc.Relays {
		var flags, addrs []string
		if v, ok := r["flags"]; ok {
			flags = strs(v)
		}
		switch {
		case slices.Contains(flags, "BadExit"):
		case r["exit_addresses"] != nil && len(r["exit_addresses"].([]any)) > 0:
			addrs = strs(r["exit_addresses"])
		case slices.Contains(flags, "Exit") && r["or_addresses"] != nil:
			for _, s := range strs(r["or_addresses"]) {
				addrs = append(addrs, netip.MustParseAddrPort(s).Addr().String())
			}
		}
		if len(addrs) == 0 {
			c.Skipped++
			continue
		}
		c.Records++
		for _, s := range addrs {
			a := netip.MustParseAddr(strings.Trim(s, "[]")).Unmap()
			pfxs[netip.PrefixFrom(a, a.BitLen())] = true
		}
	}
	return tiPrefixCounts(c, pfxs)
}

func TestCorpusOnionoo(t *testing.T) {
	t.Parallel()
	// Neither real document has exit_addresses or flags (fetched with a
	// fields= filter), so no relay is known to be an exit: every relay is
	// skipped. Relay counts from the feed corpus's manifest, verified with
	// grep -c '"fingerprint"'.
	pinned := map[string]tiCounts{
		"onionoo-details-fp-addr_2026-08-22.json": {Skipped: 10157},
		"onionoo-details-running_2026-08-22.json": {Skipped: 9470},
	}
	tiCorpus(t, FormatOnionoo, tiShared(t, "tor/onionoo*.json"), refOnionoo, pinned)
}

func FuzzParseOnionoo(f *testing.F) {
	tiSeeds(f, "onionoo-*.json") // real excerpts of the two mirrors, relays cut to ten
	// Synthetic: the full details fields the real snapshots lack.
	f.Add([]byte(`{"relays":[{"or_addresses":["1.2.3.4:9001","[2001:db8::1]:9001"],"exit_addresses":["1.2.3.5"],"flags":["Exit","Running"]}],"bridges":[]}`))
	f.Add([]byte(`{"relays":[{"or_addresses":["[::ffff:1.2.3.4]:1"],"flags":["Exit"]},7,null,{"flags":"Exit"}]}`)) // wrong types
	f.Add([]byte(`{"relays":[{"exit_addresses":["1.2.3.4"]`))                                                      // truncated
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatOnionoo, data)
	})
}
