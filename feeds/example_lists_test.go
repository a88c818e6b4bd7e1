package feeds_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ipintel/ipintel/feeds"
)

func ExampleParse_json() {
	feed := `{
  "syncToken": "1753388594",
  "createDate": "2025-07-24-20-23-14",
  "prefixes": [
    {"ip_prefix": "3.4.12.4/32", "region": "eu-west-1", "service": "AMAZON"},
    {"ip_prefix": "3.4.12.4/32", "region": "eu-west-1", "service": "EC2"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2600:1f69:7400::/40", "region": "mx-central-1", "service": "AMAZON"}
  ]
}`
	opts := feeds.Options{Format: feeds.FormatJSON, JSONKeys: []string{"ip_prefix", "ipv6_prefix"}}
	st, err := feeds.Parse(strings.NewReader(feed), opts, func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
	fmt.Printf("records %d, error %v\n", st.Records, err)
	// Output:
	// 5 3.4.12.4/32
	// 6 3.4.12.4/32
	// 9 2600:1f69:7400::/40
	// records 3, error <nil>
}

func ExampleParse_json_notFeed() {
	feed := `{"message": "Rate exceeded"}`
	_, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatJSON, Source: "aws"}, func(feeds.Entry) {})
	fmt.Println(errors.Is(err, feeds.ErrNotFeed))
	fmt.Println(err)
	// Output:
	// true
	// aws: body is not the feed (no valid entries): no address in the JSON document
}

func ExampleParse_proxyList() {
	feed := `# Avastel 5 day proxy bots IPs blocklist
ip_address;autonomous_system;confidence
82.23.34.0/24;Trunk Networks LTD;1.0
socks5://user:secret@144.31.222.106:7890
[2001:db8::7]:1080
proxy.example.com:8080
`
	st, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatProxyList, Source: "proxies"},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
	fmt.Printf("records %d, invalid %d\n", st.Records, st.Invalid)
	fmt.Println(err)
	// Output:
	// 3 82.23.34.0/24
	// 4 144.31.222.106/32
	// 5 2001:db8::7/128
	// records 3, invalid 2
	// proxies:2: host is not an IP address: "ip_address;autonomous_system;confidence"
	// proxies:6: host is not an IP address: "proxy.example.com:8080"
}

func ExampleParse_vpnServers() {
	feed := `{
  "version": 1,
  "mullvad": {"version": 3, "servers": [
    {"vpn": "wireguard", "hostname": "se-got-wg-001", "ips": ["185.213.154.68", "2a03:1b20:5:f011::a01f"]}
  ]},
  "private internet access": {"servers": [{"ip": "102.129.252.12"}]}
}`
	st, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatVPNServers},
		func(e feeds.Entry) { fmt.Println(e.Prefix, e.Provider) })
	fmt.Printf("records %d, error %v\n", st.Records, err)
	// Output:
	// 185.213.154.68/32 Mullvad
	// 2a03:1b20:5:f011::a01f/128 Mullvad
	// 102.129.252.12/32 Private Internet Access
	// records 2, error <nil>
}

func ExampleParse_asnNames() {
	feed := "0\t-Reserved AS-, ZZ\n" +
		"224\tUNINETT UNINETT, The Norwegian University & Research Network, NO\n" +
		"27817 Red Universitaria Nacional Administraci\xf3n, CL\n"
	st, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatASNNames},
		func(e feeds.Entry) { fmt.Printf("AS%d %s\n", e.ASN, e.Org) })
	fmt.Printf("records %d, skipped %d, error %v\n", st.Records, st.Skipped, err)
	// Output:
	// AS224 UNINETT UNINETT, The Norwegian University & Research Network
	// AS27817 Red Universitaria Nacional Administración
	// records 2, skipped 1, error <nil>
}

func ExampleParse_geofeed() {
	feed := `# Linode geofeed
2600:3c00::/32,US,US-TX,Richardson,
5.101.96.0/21,NL,NL-NH,Amsterdam,1098 XH
`
	st, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatGeofeed},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
	fmt.Printf("records %d, error %v\n", st.Records, err)
	// Output:
	// 2 2600:3c00::/32
	// 3 5.101.96.0/21
	// records 2, error <nil>
}
