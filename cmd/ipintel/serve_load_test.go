package main

import (
	"flag"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	loadDB  = flag.String("serve-load-db", "", "run TestServeLoad against this database (a full-size build)")
	loadFor = flag.Duration("serve-load-for", 3*time.Second, "how long TestServeLoad runs")
)

// TestServeLoad is a load generator in Go for GET /v1/ip/{addr}, the
// equivalent of "wrk -t2 -c64 --latency" where wrk is not installed. It
// only reports; it runs when -serve-load-db names a database:
//
//	go test ./cmd/ipintel -run TestServeLoad -v -serve-load-db /tmp/full.mmdb
//
// The client shares the machine's cores with the server, as wrk does.
func TestServeLoad(t *testing.T) {
	if *loadDB == "" {
		t.Skip("set -serve-load-db to run the load test")
	}
	ts := startServe(t, serveConfig{db: *loadDB})
	paths := []string{"/v1/ip/1.2.3.4", "/v1/ip/185.220.101.1", "/v1/ip/2a0b:f4c2:2::33", "/v1/ip/10.1.2.3"}
	const conns = 64
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: tr}
	deadline := time.Now().Add(*loadFor)
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for n := i; time.Now().Before(deadline); n++ {
				start := time.Now()
				resp, err := client.Get(ts.url + paths[n%len(paths)])
				if err != nil {
					bad++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					bad++
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	if len(lat) == 0 {
		t.Fatal("no requests completed")
	}
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("%d requests in %v: %.0f req/s, p50 %v, p99 %v, max %v, %d errors",
		len(lat), *loadFor, float64(len(lat))/loadFor.Seconds(), q(0.50), q(0.99), lat[len(lat)-1], errs)
	if errs > 0 {
		t.Errorf("%d requests failed", errs)
	}
}
