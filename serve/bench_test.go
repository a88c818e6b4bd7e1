package serve

import (
	"context"
	"net/http"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkHandlerIP measures the handler of GET /v1/ip/{addr} without the
// network: routing, parsing, lookup, policy, metrics and the JSON.
func BenchmarkHandlerIP(b *testing.B) {
	s, err := Open(context.Background(), "testdata/sample.mmdb", Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	for _, addr := range []string{"192.0.2.10", "10.1.2.3", "2001:db8:2::1"} {
		b.Run(addr, func(b *testing.B) {
			req, _ := http.NewRequest("GET", "/v1/ip/"+addr, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkHandlerAuth measures the forward-auth handler without the network.
func BenchmarkHandlerAuth(b *testing.B) {
	s, err := Open(context.Background(), "testdata/sample.mmdb", Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	for _, xff := range []string{"192.0.2.10", "10.1.2.3", "2001:db8:2::1, 127.0.0.1"} {
		b.Run(xff, func(b *testing.B) {
			req, _ := http.NewRequest("GET", "/v1/auth", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			req.Header.Set("X-Forwarded-For", xff)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
