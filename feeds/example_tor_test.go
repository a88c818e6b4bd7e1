package feeds_test

import (
	"fmt"
	"strings"

	"github.com/ipintel/ipintel/feeds"
)

func ExampleParse_torExitAddresses() {
	list := `@type tordnsel 1.0
Downloaded 2018-11-01 00:02:01
ExitNode 6BF913C31A47E020637121014DB2AFE0877BD31B
Published 2018-10-31 20:46:24
LastStatus 2018-10-31 21:02:25
ExitAddress 185.220.100.254 2018-10-31 03:05:38
ExitAddress 94.31.53.203 2018-10-31 03:05:38
`
	st, err := feeds.Parse(strings.NewReader(list), feeds.Options{Format: feeds.FormatTorExitAddresses},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
	fmt.Printf("records %d, invalid %d, err %v\n", st.Records, st.Invalid, err)
	// Output:
	// 6 185.220.100.254/32
	// 7 94.31.53.203/32
	// records 2, invalid 0, err <nil>
}

func ExampleParse_torConsensus() {
	// Three relays of a microdesc consensus: an exit with an IPv6 ORPort,
	// a BadExit and a relay that is not an exit.
	consensus := `network-status-version 3 microdesc
valid-after 2022-11-19 10:00:00
r ForPrivacyNET ADb6NqtDX9XQ9kBiZjaGfr+3LGg 2022-11-18 18:01:58 185.220.101.33 10133 0
a [2a0b:f4c2:2::33]:10133
s Exit Fast Running V2Dir Valid
m 38hr2IZV5m/kTlVcZmroAwmemDqYVeN+5HcTprpIa2A
r soltor0 KWsheP10KrNasgya3wTV39PUB+s 2022-11-19 00:22:49 206.55.74.0 443 0
s BadExit Exit Fast Guard HSDir Running Stable V2Dir Valid
r seele AAoQ1DAR6kkoo19hBAX5K0QztNw 2022-11-19 03:58:26 104.53.221.159 9001 0
s Fast HSDir Running Stable V2Dir Valid
directory-footer
`
	st, err := feeds.Parse(strings.NewReader(consensus), feeds.Options{Format: feeds.FormatTorConsensus},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
	fmt.Printf("exits %d, other relays %d, err %v\n", st.Records, st.Skipped, err)
	// Output:
	// 3 185.220.101.33/32
	// 4 2a0b:f4c2:2::33/128
	// exits 1, other relays 2, err <nil>
}

func ExampleParse_onionoo() {
	details := `{"version":"8.0","relays_published":"2026-08-22 11:00:00",
"relays":[
{"fingerprint":"A1","or_addresses":["192.0.2.1:443"],"exit_addresses":["192.0.2.7"],"flags":["Exit","Running"]},
{"fingerprint":"B2","or_addresses":["192.0.2.2:9001","[2001:db8::2]:9001"],"flags":["Exit","Fast"]},
{"fingerprint":"C3","or_addresses":["192.0.2.3:9001"],"flags":["Guard","Running"]}
],
"bridges":[]}`
	st, err := feeds.Parse(strings.NewReader(details), feeds.Options{Format: feeds.FormatOnionoo},
		func(e feeds.Entry) { fmt.Println(e.Line, e.Prefix) })
	fmt.Printf("exits %d, other relays %d, err %v\n", st.Records, st.Skipped, err)
	// Output:
	// 3 192.0.2.7/32
	// 4 192.0.2.2/32
	// 4 2001:db8::2/128
	// exits 2, other relays 1, err <nil>
}
