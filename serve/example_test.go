package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/serve"
)

// Example mounts ipintel's API under /ipintel/ in an application's own
// server, beside the application's handlers.
func Example() {
	db, err := lookup.Open("testdata/sample.mmdb")
	if err != nil {
		panic(err)
	}
	api := serve.New(lookup.NewHandle(db), serve.Options{})

	mux := http.NewServeMux()
	mux.Handle("/ipintel/", http.StripPrefix("/ipintel", api.Handler()))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "the application") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/ipintel/v1/ip/192.0.2.10")
	if err != nil {
		panic(err)
	}
	var a serve.Answer
	err = json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if err != nil {
		panic(err)
	}
	fmt.Println(a.IP, *a.Network, a.Action, a.RiskScore, a.Sources)

	// Forward-auth, as a reverse proxy on this host would ask it.
	req, _ := http.NewRequest("GET", srv.URL+"/ipintel/v1/auth", nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("X-Ipintel-Action"), resp.Header.Get("X-Ipintel-Categories"))
	// Output:
	// 192.0.2.10 192.0.2.10/32 block 98 [hosting-asn ipsum tor-exits]
	// 401 challenge vpn
}

// ExampleOpen follows a database file: Watch reloads it when a new file is
// renamed over it, or when Reload asks (on SIGHUP, say), and refuses a
// replacement that fails the checks while the old one keeps serving.
func ExampleOpen() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := serve.Open(ctx, "testdata/sample.mmdb", serve.Options{})
	if err != nil {
		panic(err)
	}
	go s.Watch(ctx)

	rec, found := s.Handle().Load().Lookup(netip.MustParseAddr("2001:db8:2::1"))
	fmt.Println(found, rec.Network, rec.Categories)
	// Output:
	// true 2001:db8:2::/64 tor_exit
}
