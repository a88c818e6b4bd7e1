package feeds

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	t.Parallel()
	tiRun(t, FormatJSON, []tiCase{
		{
			name:    "AWS shape, numbers and other strings ignored",
			in:      "{\"syncToken\": \"1753388594\", \"createDate\": \"2025-07-24-20-23-14\",\n \"prefixes\": [{\"ip_prefix\": \"3.4.12.4/32\", \"region\": \"eu-west-1\"}],\n \"ipv6_prefixes\": [{\"ipv6_prefix\": \"2600:1f69:7400::/40\", \"n\": 7}]}",
			want:    []string{"2 3.4.12.4/32", "3 2600:1f69:7400::/40"},
			records: 2,
		},
		{
			name:    "arrays at any depth, addresses and CIDRs normalised",
			in:      `{"a":[["192.0.2.1",["::ffff:198.51.100.7"]],{"b":{"c":"10.1.2.3/8"}}],"d":"2001:0db8::1/64"}`,
			want:    []string{"1 192.0.2.1/32", "1 198.51.100.7/32", "1 10.0.0.0/8", "1 2001:db8::/64"},
			records: 4,
		},
		{
			name:    "keys, ranges, ports, zones and text are not records",
			in:      `{"192.0.2.1":"x","r":"192.0.2.1-192.0.2.9","p":"192.0.2.1:80","z":"fe80::1%eth0","t":"see 192.0.2.1","ok":"192.0.2.2"}`,
			want:    []string{"1 192.0.2.2/32"},
			records: 1,
		},
		{
			name:    "version strings are not addresses",
			in:      `{"version":"1.2.3.4","apiVersion":"5.6.7.8","VERSION":["9.9.9.9"],"ip":"192.0.2.3"}`,
			want:    []string{"1 192.0.2.3/32"},
			records: 1,
		},
		{
			name:    "Azure addressPrefixes, CRLF",
			in:      "{\r\n  \"values\": [\r\n    {\r\n      \"name\": \"ActionGroup\",\r\n      \"properties\": {\r\n        \"addressPrefixes\": [\r\n          \"4.145.74.52/30\",\r\n          \"2603:1000:4:402::178/125\"\r\n        ]\r\n      }\r\n    }\r\n  ]\r\n}",
			want:    []string{"7 4.145.74.52/30", "8 2603:1000:4:402::178/125"},
			records: 2,
		},
		{
			name:    "NDJSON and a top-level string",
			in:      "{\"ip\":\"192.0.2.1\"}\n{\"ip\":\"192.0.2.2\"}\n\"192.0.2.3\"\n",
			want:    []string{"1 192.0.2.1/32", "2 192.0.2.2/32", "3 192.0.2.3/32"},
			records: 3,
		},
		{
			name:  "no address at all is not the feed",
			in:    `{"message":"Rate exceeded","code":429}`,
			fatal: true,
		},
		{
			name:  "empty object is not the feed",
			in:    `{}`,
			fatal: true,
		},
		{
			name:    "syntax error after records",
			in:      "[\"192.0.2.1\",\n\"192.0.2.2\",\n}",
			want:    []string{"1 192.0.2.1/32", "2 192.0.2.2/32"},
			records: 2,
			fatal:   true,
		},
		{
			name:  "HTML error page",
			in:    "<!DOCTYPE html><html><body>502</body></html>",
			fatal: true,
		},
	})
}

// TestParseJSONKeys checks Options.JSONKeys: only values under the named
// keys are read, and those are meant to be addresses.
func TestParseJSONKeys(t *testing.T) {
	t.Parallel()
	in := "[{\"host\": \"192.0.2.1\", \"exit_ip\": \"198.51.100.1\", \"port\": 8080},\n" +
		" {\"host\": \"192.0.2.2\", \"exit_ip\": null},\n" +
		" {\"host\": \"192.0.2.3\", \"exit_ip\": \"proxy.example\"},\n" +
		" {\"exit_ip\": \"\", \"list\": {\"exit_ip\": [\"2001:db8::1\", [\"203.0.113.0/24\"], 5]}}]"
	tests := []struct {
		name    string
		keys    []string
		want    []string
		stats   Stats
		bad     []int
		notFeed bool
	}{
		{"no keys: every address", nil,
			[]string{"1 192.0.2.1/32", "1 198.51.100.1/32", "2 192.0.2.2/32", "3 192.0.2.3/32", "4 2001:db8::1/128", "4 203.0.113.0/24"},
			Stats{Records: 6}, nil, false},
		{"empty keys: every address", []string{},
			[]string{"1 192.0.2.1/32", "1 198.51.100.1/32", "2 192.0.2.2/32", "3 192.0.2.3/32", "4 2001:db8::1/128", "4 203.0.113.0/24"},
			Stats{Records: 6}, nil, false},
		{"exit_ip: arrays under it count, the rest are bad or skipped", []string{"exit_ip"},
			[]string{"1 198.51.100.1/32", "4 2001:db8::1/128", "4 203.0.113.0/24"},
			Stats{Records: 3, Invalid: 2, Skipped: 2}, []int{3, 4}, false},
		{"two keys", []string{"host", "exit_ip"},
			[]string{"1 192.0.2.1/32", "1 198.51.100.1/32", "2 192.0.2.2/32", "3 192.0.2.3/32", "4 2001:db8::1/128", "4 203.0.113.0/24"},
			Stats{Records: 6, Invalid: 2, Skipped: 2}, []int{3, 4}, false},
		{"a key absent from the document", []string{"ip_prefix"}, nil, Stats{}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := parseText(in, Options{Format: FormatJSON, JSONKeys: tc.keys})
			var entries []string
			for _, e := range got.entries {
				entries = append(entries, tiFormat(e))
			}
			if !slices.Equal(entries, tc.want) || got.stats != tc.stats {
				t.Errorf("entries %q stats %+v, want %q %+v", entries, got.stats, tc.want, tc.stats)
			}
			var bad []int
			for _, le := range got.lineErrs {
				bad = append(bad, le.Line)
			}
			if !slices.Equal(bad, tc.bad) {
				t.Errorf("bad lines %v, want %v", bad, tc.bad)
			}
			isNotFeed := len(got.fatal) == 1 && errors.Is(got.fatal[0], ErrNotFeed)
			if isNotFeed != tc.notFeed || (!tc.notFeed && len(got.fatal) != 0) {
				t.Errorf("errors %v, want ErrNotFeed %v", got.fatal, tc.notFeed)
			}
		})
	}
}

// refJSONPrefix parses a whole string as an address or CIDR with net/netip
// alone: brackets around an address allowed, zones refused, IPv4-mapped
// unmapped, host bits masked.
func refJSONPrefix(s string) (netip.Prefix, bool) {
	if addr, l, ok := strings.Cut(s, "/"); ok {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
				p, err = netip.ParsePrefix(addr[1:len(addr)-1] + "/" + l)
			}
			if err != nil {
				return netip.Prefix{}, false
			}
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, false
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, ok := refAddr(s)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// refJSON decodes the whole document with encoding/json into any and
// walks it recursively, applying the json format's rules to every string.
func refJSON(keys []string) func(t *testing.T, data []byte) tiCounts {
	return func(t *testing.T, data []byte) tiCounts {
		var c tiCounts
		pfxs := map[netip.Prefix]bool{}
		var walk func(key string, v any)
		walk = func(key string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					walk(k, e)
				}
			case []any:
				for _, e := range v {
					walk(key, e)
				}
			case string:
				selected := slices.Contains(keys, key)
				switch {
				case len(keys) > 0 && !selected:
				case len(keys) == 0 && strings.Contains(strings.ToLower(key), "version"):
				case len(keys) > 0 && v == "":
					c.Skipped++
				default:
					if p, ok := refJSONPrefix(v); ok {
						c.Records++
						pfxs[p] = true
					} else if selected {
						c.Invalid++
					}
				}
			case nil:
				if slices.Contains(keys, key) {
					c.Skipped++
				}
			default:
				if slices.Contains(keys, key) {
					c.Invalid++
				}
			}
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		for dec.More() {
			var doc any
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("reference: %v", err)
			}
			walk("", doc)
		}
		return tiPrefixCounts(c, pfxs)
	}
}

// TestCorpusJSON parses every JSON address list of the corpus and
// compares it with the reference. The pinned numbers are those of the feed corpus's manifest,
// counted there with python3 (json.load and ipaddress.ip_network).
func TestCorpusJSON(t *testing.T) {
	t.Parallel()
	pinned := map[string]tiCounts{
		"applebot_2026-09-15.json":                       {Records: 24, Prefixes: 24, IPv4: 24},
		"google-common-crawlers_2026-08-21.json":         {Records: 315, Prefixes: 315, IPv4: 169, IPv6: 146},
		"google-special-crawlers_2026-08-21.json":        {Records: 270, Prefixes: 270, IPv4: 135, IPv6: 135},
		"google-user-triggered-fetchers_2026-08-21.json": {Records: 1056, Prefixes: 1056, IPv4: 528, IPv6: 528},
		"ipverse-bot-ip-blocks-crawlers_2026-08-21.json": {Records: 1810, Prefixes: 1806, IPv4: 1584, IPv6: 222},
		"openai-chatgpt-user_2026-04-29.json":            {Records: 240, Prefixes: 240, IPv4: 240},
		"openai-gptbot_2025-10-30.json":                  {Records: 21, Prefixes: 21, IPv4: 21},
		"openai-searchbot_2026-01-02.json":               {Records: 35, Prefixes: 35, IPv4: 35},
		"aws-ip-ranges_2025-07-24.json":                  {Records: 13344, Prefixes: 9066, IPv4: 6850, IPv6: 2216},
		"azure-servicetags-public_2025-07-22.json":       {Records: 90493, Prefixes: 50887, IPv4: 37525, IPv6: 13362},
		"fastly-public-ip-list_2024-10-08.json":          {Records: 21, Prefixes: 21, IPv4: 19, IPv6: 2},
		"gcp-cloud_2025-07-24.json":                      {Records: 782, Prefixes: 782, IPv4: 736, IPv6: 46},
		"google-goog_2026-08-21.json":                    {Records: 114, Prefixes: 114, IPv4: 99, IPv6: 15},
		"oracle-public-ip-ranges_2025-07-21.json":        {Records: 896, Prefixes: 896, IPv4: 896},
	}
	files := tiShared(t, "crawler/*.json", "cloud/*.json")
	tiCorpus(t, FormatJSON, files, refJSON(nil), pinned)
}

// TestCorpusJSONKeys reads the corpus files with the keys their publishers
// document; the counts must equal those of the keyless read, which shows
// that no other string in them was taken for an address.
func TestCorpusJSONKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		glob string
		keys []string
	}{
		{"cloud/aws-ip-ranges_*.json", []string{"ip_prefix", "ipv6_prefix"}},
		{"cloud/gcp-cloud_*.json", []string{"ipv4Prefix", "ipv6Prefix"}},
		{"cloud/azure-servicetags-public_*.json", []string{"addressPrefixes"}},
		{"cloud/oracle-public-ip-ranges_*.json", []string{"cidr"}},
		{"cloud/fastly-public-ip-list_*.json", []string{"addresses", "ipv6_addresses"}},
		{"crawler/ipverse-bot-ip-blocks-crawlers_*.json", []string{"ipv4", "ipv6"}},
	} {
		for _, path := range tiShared(t, tc.glob) {
			data := tiRead(t, path)
			entries, st, err := tiParseOpts(data, Options{Format: FormatJSON, JSONKeys: tc.keys})
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(path), err)
			}
			got := tiTally(entries, st)
			if want := refJSON(nil)(t, data); got != want {
				t.Errorf("%s with keys %v: %v, want %v (keyless reference)", filepath.Base(path), tc.keys, got, want)
			}
		}
	}
}

// TestCorpusJSONMonosans reads monosans' proxies.json. Each record lists
// the proxy's listening address ("host") and the address its traffic
// leaves from ("exit_ip"), which differ for 136 of the 492 proxies. Read
// with no keys, the json format takes both (984 records); with JSONKeys
// ["exit_ip"] it takes the exits, the addresses websites see: 492 records,
// 449 distinct (the feed corpus's manifest). The proxy-list format is for the text lists.
func TestCorpusJSONMonosans(t *testing.T) {
	t.Parallel()
	files := tiShared(t, "proxy/monosans-proxies_*.json")
	tiCorpus(t, FormatJSON, files, refJSON(nil), map[string]tiCounts{
		"monosans-proxies_2026-08-22.json": {Records: 984, Prefixes: 571, IPv4: 571},
	})
	for _, path := range files {
		data := tiRead(t, path)
		for _, keys := range [][]string{{"exit_ip"}, {"host"}} {
			entries, st, err := tiParseOpts(data, Options{Format: FormatJSON, JSONKeys: keys})
			if err != nil {
				t.Errorf("%v: %v", keys, err)
			}
			got, want := tiTally(entries, st), refJSON(keys)(t, data)
			if got != want {
				t.Errorf("%s with keys %v: %v, want %v (reference)", filepath.Base(path), keys, got, want)
			}
			if keys[0] == "exit_ip" && strings.HasSuffix(path, "_2026-08-22.json") && (got.Records != 492 || got.Prefixes != 449) {
				t.Errorf("exit_ip: %v, want 492 records and 449 distinct (MANIFEST.md)", got)
			}
		}
	}
}

// tiParseOpts is tiParse with options.
func tiParseOpts(data []byte, opts Options) ([]Entry, Stats, error) {
	var out []Entry
	opts.Source = "test"
	st, err := Parse(bytes.NewReader(data), opts, func(e Entry) { out = append(out, e) })
	return out, st, err
}

func FuzzParseJSON(f *testing.F) {
	tiSeeds(f, "json-*")                                                // real excerpts: AWS, Azure (CRLF), Google crawlers, Fastly, monosans, ipverse crawlers
	f.Add([]byte(`{"version":"1.2.3.4","a":[["::ffff:1.2.3.4/120"]]}`)) // version key, mapped prefix
	f.Add([]byte(`[1e999, -0, "1.2.3.4/33", "[::1]/128", "", null]`))   // huge number, bad length, brackets
	f.Add([]byte(`{"a":{"b":` + strings.Repeat("[", 200) + `"1.2.3.4"` + strings.Repeat("]", 200) + `}}`))
	f.Add([]byte("{\"ip\":\"192.0.2.1\"}\n{\"ip\":")) // NDJSON cut short
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatJSON, data)
		entries, st, _ := tiParseOpts(data, Options{Format: FormatJSON, JSONKeys: []string{"ip", "a"}})
		for _, e := range entries {
			if p := tiEntryProblem(FormatJSON, e); p != nil {
				t.Fatalf("with keys: entry %+v: %v", e, p)
			}
		}
		if st.Records != len(entries) {
			t.Fatalf("with keys: %d records for %d entries", st.Records, len(entries))
		}
	})
}
