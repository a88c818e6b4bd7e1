package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipintel/ipintel/internal/testhttp"
	"github.com/ipintel/ipintel/serve"
)

type testServer struct {
	*server
	url string
	log *testhttp.LockedBuffer
}

// startServe runs the serve command's server in-process on 127.0.0.1:0
// until the test ends.
func startServe(t *testing.T, cfg serveConfig) *testServer {
	t.Helper()
	if cfg.watch == 0 {
		cfg.watch = 20 * time.Millisecond
	} else if cfg.watch < 0 {
		cfg.watch = 0
	}
	if cfg.poll == 0 {
		cfg.poll = 20 * time.Millisecond
	}
	logs := &testhttp.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newServer(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		cancel()
		t.Fatalf("newServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testServer{server: s, url: "http://" + ln.Addr().String(), log: logs}
}

// replaceFile writes nets as a database beside path and renames it over
// path, as a builder does.
func replaceFile(t *testing.T, path string, write func(tmp string)) {
	t.Helper()
	tmp := path + ".tmp"
	write(tmp)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestServeStartErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mmdb")
	if err := os.WriteFile(bad, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no db", []string{"serve"}, exitUsage},
		{"extra args", []string{"serve", "-db", bad, "x"}, exitUsage},
		{"bad proxy", []string{"serve", "-db", bad, "-trusted-proxy", "nonsense"}, exitUsage},
		{"thresholds crossed", []string{"serve", "-db", bad, "-challenge-at", "90", "-block-at", "80"}, exitUsage},
		{"threshold zero", []string{"serve", "-db", bad, "-challenge-at", "0"}, exitUsage},
		{"broken db", []string{"serve", "-db", bad, "-listen", "127.0.0.1:0"}, exitRuntime},
		{"missing db", []string{"serve", "-db", filepath.Join(dir, "missing.mmdb"), "-listen", "127.0.0.1:0"}, exitRuntime},
		{"bad listen", []string{"serve", "-db", sampleDB(t), "-listen", "127.0.0.1:99999"}, exitRuntime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := run(context.Background(), tt.args, nil, &out, &errb); got != tt.want {
				t.Fatalf("run(%q) = %d, want %d; stderr:\n%s", tt.args, got, tt.want, errb.String())
			}
		})
	}
}

// TestServeCommandShutdown runs the whole command through run and cancels
// its context, as SIGTERM does in main.
func TestServeCommandShutdown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var errb testhttp.LockedBuffer
	done := make(chan int, 1)
	db := sampleDB(t)
	go func() { done <- run(ctx, []string{"serve", "-db", db, "-listen", addr}, nil, io.Discard, &errb) }()
	testhttp.WaitFor(t, "the server", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("serve exited %d after cancel; stderr:\n%s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil || errors.Is(err, context.Canceled) {
		t.Error("server still answering after shutdown")
	}
}

// TestServeSlowAndOversizedClients checks the server's limits: a client
// that trickles its headers is cut off, oversized headers are refused, and
// the server keeps answering others meanwhile.
func TestServeSlowAndOversizedClients(t *testing.T) {
	t.Parallel()
	ts := startServe(t, serveConfig{db: sampleDB(t), readHeaderTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /v1/ip/192.0.2.1 HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	if a := testhttp.GetAnswer[serve.Answer](t, ts.url, "192.0.2.10"); a.Action != "block" {
		t.Errorf("while a slow client waits: %s, want block", a.Action)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			break // closed by the server (or timed out, checked below)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("slow client held its connection for %v; want it cut after the 300ms header timeout", d)
	}

	req, _ := http.NewRequest("GET", ts.url+"/v1/ip/192.0.2.10", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: %d, want 431", resp.StatusCode)
	}
	if a := testhttp.GetAnswer[serve.Answer](t, ts.url, "192.0.2.10"); a.Action != "block" {
		t.Errorf("after the limits: %s, want block", a.Action)
	}
}
