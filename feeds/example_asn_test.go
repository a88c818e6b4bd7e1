package feeds_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/ipintel/ipintel/feeds"
)

func ExampleParse_ip2asn() {
	table := "1.1.1.0\t1.1.1.255\t13335\tUS\tCLOUDFLARENET - Cloudflare, Inc.\n" +
		"8.8.4.0\t8.8.4.2\t15169\tUS\tGOOGLE - Google LLC\n" +
		"::\t::1\t0\tNone\tNot routed\n"
	st, err := feeds.Parse(strings.NewReader(table), feeds.Options{Format: feeds.FormatIP2ASN},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix, e.ASN, e.Org) })
	fmt.Printf("records %d, not routed %d, err %v\n", st.Records, st.Skipped, err)
	// Output:
	// 1 1.1.1.0/24 13335 CLOUDFLARENET - Cloudflare, Inc.
	// 2 8.8.4.0/31 15169 GOOGLE - Google LLC
	// 2 8.8.4.2/32 15169 GOOGLE - Google LLC
	// records 2, not routed 1, err <nil>
}

func ExampleParse_pyASN() {
	table := "; IP-ASN32-DAT file\n" +
		"1.0.0.0/24\t15169\n" +
		"1.0.4.0\t22\t38803_56203\n" // CAIDA pfx2as, multi-origin: the first AS
	_, err := feeds.Parse(strings.NewReader(table), feeds.Options{Format: feeds.FormatPyASN},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix, e.ASN) })
	fmt.Println(err)
	// Output:
	// 2 1.0.0.0/24 15169
	// 3 1.0.4.0/22 38803
	// <nil>
}

func ExampleParse_asnList() {
	// The three families may even share a file.
	list := `AS45090 # Tencent cloud computing
51447, "RootLayer Web Services Ltd, NL"
{"asn":932,"rir":"arin","domain":"xn.net","cc":"US","asname":"XNNET"}
{"type":"metadata","timestamp":1709006105,"records":1}
`
	st, err := feeds.Parse(strings.NewReader(list), feeds.Options{Format: feeds.FormatASNList},
		func(e feeds.Entry) { fmt.Printf("%d AS%d %q\n", e.Line, e.ASN, e.Org) })
	fmt.Printf("records %d, err %v\n", st.Records, err)
	// Output:
	// 1 AS45090 "Tencent cloud computing"
	// 2 AS51447 "RootLayer Web Services Ltd, NL"
	// 3 AS932 "XNNET"
	// records 3, err <nil>
}

func ExampleParse_mmdb() {
	// MaxMind's GeoIP2-Anonymous-IP test database: most of its networks
	// are empty fillers, which are skipped.
	f, err := os.Open("testdata/mmdb-GeoIP2-Anonymous-IP-Test.mmdb")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	n := 0
	st, err := feeds.Parse(f, feeds.Options{Format: feeds.FormatMMDB}, func(e feeds.Entry) {
		if n++; n <= 3 {
			fmt.Println(e.Line, e.Prefix, e.Categories)
		}
	})
	fmt.Printf("networks %d, without anything to import %d, err %v\n", st.Records, st.Skipped, err)
	// Output:
	// 2 1.2.0.0/16 vpn
	// 18 1.124.213.1/32 tor_exit,vpn
	// 35 6.1.0.0/31 vpn
	// networks 12, without anything to import 587, err <nil>
}
