package feeds_test

import (
	"fmt"
	"strings"

	"github.com/ipintel/ipintel/feeds"
)

func ExampleParse_ipList() {
	feed := `# firehol_level1
# ipv4 hash:net ipset
1.10.16.0/20
1.0.138.92       # TH  AS23969   TOT Public Company Limited
192.0.2.1-192.0.2.6
2001:0470:0001:0908:0000:0000:0000:9001
bogus
`
	st, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatIPList, Source: "level1.netset"},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
	fmt.Printf("records %d, invalid %d\n", st.Records, st.Invalid)
	fmt.Println(err)
	// Output:
	// 3 1.10.16.0/20
	// 4 1.0.138.92/32
	// 5 192.0.2.1/32
	// 5 192.0.2.2/31
	// 5 192.0.2.4/31
	// 5 192.0.2.6/32
	// 6 2001:470:1:908::9001/128
	// records 4, invalid 1
	// level1.netset:7: ParseAddr("bogus"): unable to parse IP: "bogus"
}

func ExampleParse_spamhausDrop() {
	// Text and NDJSON lines may even share a file; the metadata line of
	// drop_v4.json is neither a record nor invalid.
	feed := `; Spamhaus DROP List 2025/01/17 - (c) 2025 The Spamhaus Project SLU
1.10.16.0/20 ; SBL256894
{"cidr":"2.26.75.0/24","sblid":"SBL698389","rir":"ripencc"}
{"type":"metadata","timestamp":1784798042,"size":101866,"records":2}
; EOF
`
	st, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatSpamhausDrop},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
	fmt.Printf("records %d, invalid %d, error %v\n", st.Records, st.Invalid, err)
	// Output:
	// 2 1.10.16.0/20
	// 3 2.26.75.0/24
	// records 2, invalid 0, error <nil>
}

func ExampleParse_ipsum() {
	feed := "# IP\tnumber of (black)lists\n77.90.185.20\t10\n192.0.2.7\t3\n198.51.100.9\t1\n"
	st, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatIPSum, MinCount: 3},
		func(e feeds.Entry) { fmt.Println(e.Prefix) })
	fmt.Printf("records %d, skipped %d, error %v\n", st.Records, st.Skipped, err)
	// Output:
	// 77.90.185.20/32
	// 192.0.2.7/32
	// records 2, skipped 1, error <nil>
}

func ExampleParse_csv() {
	// ipcat datacenters.csv: no header, start,end,name,url; the range
	// is not CIDR-aligned, so it splits into two prefixes.
	ipcat := `3.0.0.0,3.1.255.255,Amazon AWS,http://www.amazon.com/aws/
64.5.32.0,64.5.96.255,"ThePlanet.com Internet Services, Inc.",http://theplanet.com
`
	// jhassine datacenters.csv: the header names the cidr column.
	jhassine := `"cidr","hostmin","hostmax","vendor"
"1.178.1.0/24","1.178.1.0","1.178.1.255","AWS"
`
	for _, feed := range []string{ipcat, jhassine} {
		st, _ := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatCSV},
			func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
		fmt.Println("records", st.Records)
	}
	// Output:
	// 1 3.0.0.0/15
	// 2 64.5.32.0/19
	// 2 64.5.64.0/19
	// 2 64.5.96.0/24
	// records 2
	// 2 1.178.1.0/24
	// records 1
}

func ExampleParse_ipverseJSON() {
	feed := `{
  "asn": 208172,
  "handle": "PV-HOSTED",
  "description": "Proton AG",
  "subnets": {
    "ipv4": ["81.27.86.0/24", "159.26.96.0/19"],
    "ipv6": []
  }
}`
	st, err := feeds.Parse(strings.NewReader(feed), feeds.Options{Format: feeds.FormatIPVerseJSON},
		func(e feeds.Entry) { fmt.Println(e.Prefix, e.ASN, e.Org) })
	fmt.Printf("records %d, error %v\n", st.Records, err)
	// Output:
	// 81.27.86.0/24 208172 Proton AG
	// 159.26.96.0/19 208172 Proton AG
	// records 2, error <nil>
}
