package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkServeLoad is a load generator in Go for GET /v1/ip/{addr}: 64
// concurrent clients over loopback HTTP on a 2-core machine (32 per core),
// the equivalent of "wrk -c64 --latency" where wrk is not installed. Each
// op is one request and its answer; allocs/op counts the client's and the
// server's together, and p50-ns and p99-ns are the request latencies. The
// client shares the machine's cores with the server, as wrk does.
//
//	go test ./cmd/ipintel -run '^$' -bench BenchmarkServeLoad -benchtime 3s
//
// The database is the small sample one: the cost measured is HTTP and the
// handler, which a lookup (tens of nanoseconds) hardly changes.
// scripts/load.sh runs wrk against a full-size build.
func BenchmarkServeLoad(b *testing.B) {
	base := startBenchServer(b, sampleDB(b))
	paths := []string{"/v1/ip/192.0.2.10", "/v1/ip/1.2.3.4", "/v1/ip/2001:db8:2::33", "/v1/ip/10.1.2.3"}
	const perCore = 32
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(perCore)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for n := 0; pb.Next(); n++ {
			start := time.Now()
			resp, err := client.Get(base + paths[n%len(paths)])
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("GET %s = %d", paths[n%len(paths)], resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(q(0.50), "p50-ns")
	b.ReportMetric(q(0.99), "p99-ns")
}

// startBenchServer runs the serve command's server on 127.0.0.1:0 until
// the benchmark ends and returns its base URL.
func startBenchServer(b *testing.B, db string) string {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newServer(ctx, serveConfig{db: db, watch: time.Hour}, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
