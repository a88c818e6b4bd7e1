package feeds

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseVPNServers(t *testing.T) {
	t.Parallel()
	doc := `{
  "version": 1,
  "mullvad": {
    "version": 3,
    "timestamp": 1681000000,
    "servers": [
      {"vpn": "wireguard", "hostname": "se-got-wg-001", "ips": ["185.213.154.68", "2a03:1b20:5:f011::a01f"]},
      {"hostname": "old", "ip": "185.213.154.69", "entry_ip": "185.213.154.69", "ipsv6": ["2a03:1b20:5:f011::a020"]}
    ]
  },
  "private internet access": {"servers": [{"ips": ["::ffff:10.0.0.1", ""]}, {"ips": [""]}, {"ip": "nope"}]},
  "some new vpn": {"servers": [{"ips": "192.0.2.7"}]},
  "empty": {"servers": null}
}`
	tests := []struct {
		name string
		in   string
		want []string // "line prefix provider"
		st   Stats
		bad  []int
		err  bool
	}{
		{
			name: "providers, fields, names",
			in:   doc,
			want: []string{
				"7 185.213.154.68/32 Mullvad", "7 2a03:1b20:5:f011::a01f/128 Mullvad",
				"8 185.213.154.69/32 Mullvad", "8 2a03:1b20:5:f011::a020/128 Mullvad",
				"11 10.0.0.1/32 Private Internet Access",
				"12 192.0.2.7/32 Some New Vpn",
			},
			st:  Stats{Records: 4, Skipped: 2, Invalid: 1},
			bad: []int{11},
		},
		{
			name: "bad field types and servers",
			in:   "{\"x\": {\"servers\": [\n{\"ips\": [1]},\n\"s\",\n{\"ips\": [\"192.0.2.1\"]}]},\n\"y\": {\"servers\": 5}}",
			want: []string{"4 192.0.2.1/32 X"},
			st:   Stats{Records: 1, Skipped: 1, Invalid: 3},
			bad:  []int{2, 3, 5},
		},
		{name: "no address is not the feed", in: `{"version": 1, "x": {"servers": []}}`, err: true},
		{name: "top-level array is not the feed", in: `[{"ips": ["192.0.2.1"]}]`, err: true},
		{name: "cut short", in: doc[:300], err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := parseText(tc.in, Options{Format: FormatVPNServers})
			var entries []string
			for _, e := range got.entries {
				entries = append(entries, tiFormat(Entry{Prefix: e.Prefix, Line: e.Line})+" "+e.Provider)
			}
			if !tc.err && (!slices.Equal(entries, tc.want) || got.stats != tc.st) {
				t.Errorf("entries %q stats %+v\nwant %q %+v", entries, got.stats, tc.want, tc.st)
			}
			var bad []int
			for _, le := range got.lineErrs {
				bad = append(bad, le.Line)
			}
			if !tc.err && !slices.Equal(bad, tc.bad) {
				t.Errorf("bad lines %v, want %v (%v)", bad, tc.bad, got.lineErrs)
			}
			if (len(got.fatal) != 0) != tc.err {
				t.Errorf("errors %v, want error %v", got.fatal, tc.err)
			}
		})
	}
}

func TestVPNProviderName(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"mullvad":                 "Mullvad",
		"private internet access": "Private Internet Access",
		"protonvpn":               "ProtonVPN",
		"nordvpn":                 "NordVPN",
		"surfshark":               "Surfshark",
		"expressvpn":              "ExpressVPN",
		"windscribe":              "Windscribe",
		"ivpn":                    "IVPN",
		"cyberghost":              "CyberGhost",
		"NordVPN":                 "NordVPN",
		"some  new vpn":           "Some New Vpn",
		"éclair":                  "Éclair",
		"":                        "",
	} {
		if got := vpnProviderName(key); got != want {
			t.Errorf("vpnProviderName(%q) = %q, want %q", key, got, want)
		}
	}
}

// refVPNServers unmarshals the whole document into any and counts every
// non-empty string of each server's address fields.
func refVPNServers(t *testing.T, data []byte) tiCounts {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("reference: %v", err)
	}
	var c tiCounts
	pfxs := map[netip.Prefix]bool{}
	for _, prov := range doc {
		m, ok := prov.(map[string]any)
		if !ok {
			continue
		}
		servers, _ := m["servers"].([]any)
		for _, s := range servers {
			seen := map[netip.Addr]bool{}
			for _, field := range []string{"ips", "ip", "entry_ip", "ipsv6"} {
				var list []any
				switch v := s.(map[string]any)[field].(type) {
				case string:
					list = []any{v}
				case []any:
					list = v
				}
				for _, e := range list {
					str := e.(string)
					if str == "" {
						continue
					}
					a, ok := refAddr(str)
					if !ok {
						c.Invalid++
						continue
					}
					seen[a] = true
				}
			}
			if len(seen) == 0 {
				c.Skipped++
				continue
			}
			c.Records++
			for a := range seen {
				pfxs[netip.PrefixFrom(a, a.BitLen())] = true
			}
		}
	}
	return tiPrefixCounts(c, pfxs)
}

// TestCorpusVPNServers compares gluetun's servers.json with the reference.
// The feed corpus's manifest (python3 over every servers[].ips[]) counts 13,056 servers,
// 3 of them with "ips": [""], and 18,506 distinct addresses of which 1,373
// are IPv6.
func TestCorpusVPNServers(t *testing.T) {
	t.Parallel()
	files := tiShared(t, "vpn/gluetun-servers_*.json")
	tiCorpus(t, FormatVPNServers, files, refVPNServers, map[string]tiCounts{
		"gluetun-servers_2023-04-20.json": {Records: 13053, Skipped: 3, Prefixes: 18506, IPv4: 17133, IPv6: 1373},
	})
	// Every provider key of that file has its own spelling.
	for _, path := range files {
		providers := map[string]bool{}
		_, err := Parse(bytes.NewReader(tiRead(t, path)), Options{Format: FormatVPNServers}, func(e Entry) {
			providers[e.Provider] = true
		})
		if err != nil {
			t.Fatal(err)
		}
		for name := range providers {
			if name == strings.ToLower(name) || !slices.Contains(mapValues(vpnProviders), name) {
				t.Errorf("provider %q is not one of the known display names", name)
			}
		}
		if len(providers) < 20 {
			t.Errorf("%d providers, want the 20 and more gluetun lists", len(providers))
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func FuzzParseVPNServers(f *testing.F) {
	tiSeeds(f, "vpnservers-*")                                                          // real excerpt: 4 providers of gluetun's servers.json, re-indented, with an "ips": [""] server
	f.Add([]byte(`{"x":{"servers":[{"ips":"1.2.3.4","ip":["::ffff:1.2.3.4"]}]}}`))      // string field, mapped duplicate
	f.Add([]byte(`{"x":{"servers":[{"ips":[null,1,"a"]},[],"s"]},"y":{"servers":{}}}`)) // wrong types
	f.Add([]byte(`{"x":{"servers":[{"ips":["1.2.3.4"]}`))                               // cut short
	f.Fuzz(func(t *testing.T, data []byte) {
		tiFuzzCheck(t, FormatVPNServers, data)
	})
}
