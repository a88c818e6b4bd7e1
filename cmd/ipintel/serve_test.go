package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/serve"
)

// lockedBuffer collects a server's log for printing when a test fails.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testServer is a running serve command on a 127.0.0.1 port.
type testServer struct {
	*server
	url string
	log *lockedBuffer
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
	logs := &lockedBuffer{}
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

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, header http.Header, body io.Reader) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return httpResult{resp.StatusCode, resp.Header, b}
}

func getAnswer(t *testing.T, base, addr string) serve.Answer {
	t.Helper()
	r := do(t, "GET", base+"/v1/ip/"+addr, nil, nil)
	if r.status != 200 {
		t.Fatalf("GET /v1/ip/%s = %d %s", addr, r.status, r.body)
	}
	var a serve.Answer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("GET /v1/ip/%s: %v in %s", addr, err, r.body)
	}
	return a
}

func TestServeEndpoints(t *testing.T) {
	t.Parallel()
	ts := startServe(t, serveConfig{db: sampleDB(t), maxBatch: 3})

	big := make([]string, 4)
	for i := range big {
		big[i] = "192.0.2.1"
	}
	bigJSON, _ := json.Marshal(big)
	huge := `["` + strings.Repeat("1", 1<<20) + `"]`

	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		body       string
		wantStatus int
		wantBody   []string // substrings
		wantHeader map[string]string
	}{
		{name: "ip block", method: "GET", path: "/v1/ip/192.0.2.10", wantStatus: 200,
			wantBody:   []string{`"ip":"192.0.2.10","found":true,"network":"192.0.2.10/32"`, `"is_tor_exit_node":true`, `"sources":["hosting-asn","ipsum","tor-exits"],"action":"block"}`},
			wantHeader: map[string]string{"Content-Type": "application/json"}},
		{name: "ip miss", method: "GET", path: "/v1/ip/10.1.2.3", wantStatus: 200,
			wantBody: []string{`"found":false,"network":null`, `"sources":[],"action":"allow"`}},
		{name: "ip mapped", method: "GET", path: "/v1/ip/::ffff:192.0.2.10", wantStatus: 200, wantBody: []string{`{"ip":"192.0.2.10",`}},
		{name: "ip v6", method: "GET", path: "/v1/ip/2001:db8:2::77", wantStatus: 200, wantBody: []string{`"network":"2001:db8:2::/64"`, `"action":"block"`}},
		{name: "ip head", method: "HEAD", path: "/v1/ip/192.0.2.10", wantStatus: 200},
		{name: "ip malformed", method: "GET", path: "/v1/ip/1.2.3.400", wantStatus: 400, wantBody: []string{`{"error":"bad address: `}},
		{name: "ip zoned", method: "GET", path: "/v1/ip/fe80::1%25eth0", wantStatus: 400, wantBody: []string{"zoned address"}},
		{name: "ip empty", method: "GET", path: "/v1/ip/", wantStatus: 400, wantBody: []string{"empty address"}},
		{name: "ip prefix", method: "GET", path: "/v1/ip/192.0.2.0/24", wantStatus: 400},
		{name: "ip wrong method", method: "POST", path: "/v1/ip/192.0.2.10", wantStatus: 405,
			wantBody: []string{`{"error":"method not allowed"}`}, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "unknown path", method: "GET", path: "/v2/whatever", wantStatus: 404, wantBody: []string{`{"error":"not found"}`}},
		{name: "root", method: "GET", path: "/", wantStatus: 404},
		{name: "batch", method: "POST", path: "/v1/ips", body: `["192.0.2.10","nope","2001:db8:1::1"]`, wantStatus: 200,
			wantBody: []string{`[{"ip":"192.0.2.10",`, `},{"ip":"nope","error":"bad address: `, `},{"ip":"2001:db8:1::1","found":true,"network":"2001:db8:1::/48"`, `"action":"challenge"}]`}},
		{name: "batch empty", method: "POST", path: "/v1/ips", body: `[]`, wantStatus: 200, wantBody: []string{"[]"}},
		{name: "batch not array", method: "POST", path: "/v1/ips", body: `{"ip":"1.2.3.4"}`, wantStatus: 400},
		{name: "batch numbers", method: "POST", path: "/v1/ips", body: `[1,2]`, wantStatus: 400},
		{name: "batch null", method: "POST", path: "/v1/ips", body: `null`, wantStatus: 400},
		{name: "batch too many", method: "POST", path: "/v1/ips", body: string(bigJSON), wantStatus: 413, wantBody: []string{"more than 3 addresses"}},
		{name: "batch too big", method: "POST", path: "/v1/ips", body: huge, wantStatus: 413},
		{name: "batch wrong method", method: "GET", path: "/v1/ips", wantStatus: 405, wantHeader: map[string]string{"Allow": "POST"}},
		{name: "flat", method: "GET", path: "/json/198.51.100.7", wantStatus: 200,
			wantBody: []string{`{"ip":"198.51.100.7","found":true,"network":"198.51.100.0/25","is_vpn":true,"is_proxy":false,"is_tor":false,"is_hosting":false,"is_crawler":false,"is_abuse":false,"is_relay":false,"asn":64501,"isp":"Example \"VPN\" \u003cNet\u003e","provider":"","risk_score":50,"risk_score_source":"stored"}`}},
		{name: "flat proxy", method: "GET", path: "/json/2001:db8:1::9", wantStatus: 200, wantBody: []string{`"is_proxy":true`}},
		{name: "flat self", method: "GET", path: "/json/", wantStatus: 200, wantBody: []string{`"ip":"127.0.0.1","found":false`}},
		{name: "flat self forwarded", method: "GET", path: "/json", header: http.Header{"X-Forwarded-For": {"192.0.2.10"}}, wantStatus: 200, wantBody: []string{`"ip":"192.0.2.10","found":true`}},
		{name: "flat zoned", method: "GET", path: "/json/fe80::1%25lo", wantStatus: 400},
		{name: "reputation", method: "GET", path: "/v1/reputation?ip=192.0.2.10", wantStatus: 200,
			wantBody: []string{`{"ip":"192.0.2.10","found":true,"network":"192.0.2.10/32","security":{"vpn":false,"proxy":false,"tor":true,"hosting":true,"abuse":true,"crawler":false,"relay":false,"provider":"","risk_score":98,"risk_score_source":"stored","action":"block"},"asn":{"number":64500,"organization":"Example Hosting"}}`}},
		{name: "reputation missing", method: "GET", path: "/v1/reputation", wantStatus: 400, wantBody: []string{"missing ip"}},
		{name: "reputation bad", method: "GET", path: "/v1/reputation?ip=x", wantStatus: 400},
		{name: "reputation wrong method", method: "DELETE", path: "/v1/reputation?ip=1.2.3.4", wantStatus: 405},
		{name: "auth block", method: "GET", path: "/v1/auth", header: http.Header{"X-Forwarded-For": {"192.0.2.10, 127.0.0.1"}}, wantStatus: 403,
			wantHeader: map[string]string{"X-Ipintel-Action": "block", "X-Ipintel-Score": "98", "X-Ipintel-Score-Source": "stored", "X-Ipintel-Categories": "tor_exit,hosting,abuse", "X-Ipintel-Client": "192.0.2.10"}},
		{name: "auth challenge", method: "POST", path: "/v1/auth", header: http.Header{"X-Real-Ip": {"198.51.100.1"}}, wantStatus: 401,
			wantHeader: map[string]string{"X-Ipintel-Action": "challenge", "X-Ipintel-Score": "50", "X-Ipintel-Categories": "vpn"}},
		{name: "auth allow", method: "GET", path: "/v1/auth", header: http.Header{"Forwarded": {`for="[2001:db8:9::1]:443";proto=https`}}, wantStatus: 200,
			wantHeader: map[string]string{"X-Ipintel-Action": "allow", "X-Ipintel-Score": "0", "X-Ipintel-Score-Source": "policy", "X-Ipintel-Categories": "none", "X-Ipintel-Client": "2001:db8:9::1"}},
		{name: "auth allowlisted", method: "GET", path: "/v1/auth", header: http.Header{"X-Forwarded-For": {"198.51.100.200"}}, wantStatus: 200,
			wantHeader: map[string]string{"X-Ipintel-Action": "allow", "X-Ipintel-Categories": "allow"}},
		{name: "auth spoof walks right", method: "GET", path: "/v1/auth", header: http.Header{"X-Forwarded-For": {"10.9.9.9, 192.0.2.10"}}, wantStatus: 403,
			wantHeader: map[string]string{"X-Ipintel-Client": "192.0.2.10"}},
		{name: "auth garbled fails open", method: "GET", path: "/v1/auth", header: http.Header{"X-Forwarded-For": {"not-an-ip"}}, wantStatus: 200,
			wantHeader: map[string]string{"X-Ipintel-Action": "allow", "X-Ipintel-Error": `X-Forwarded-For element "not-an-ip": ParseAddr("not-an-ip"): unable to parse IP`}},
		{name: "auth no header", method: "GET", path: "/v1/auth", wantStatus: 200,
			wantHeader: map[string]string{"X-Ipintel-Action": "allow", "X-Ipintel-Client": "127.0.0.1", "X-Ipintel-Error": "no forwarding header from a trusted proxy: judged the proxy's own address"}},
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200, wantBody: []string{`{"status":"ok"}`}},
		{name: "readyz", method: "GET", path: "/readyz", wantStatus: 200, wantBody: []string{`"status":"ready"`, `"build_epoch":"2026-01-02T03:04:05Z"`}},
		{name: "healthz wrong method", method: "PUT", path: "/healthz", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := do(t, tt.method, ts.url+tt.path, tt.header, body)
			if r.status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, r.status, r.body, tt.wantStatus)
			}
			for _, w := range tt.wantBody {
				if !bytes.Contains(r.body, []byte(w)) {
					t.Errorf("%s %s body = %s, want it to contain %s", tt.method, tt.path, r.body, w)
				}
			}
			for k, v := range tt.wantHeader {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s %s header %s = %q, want %q", tt.method, tt.path, k, got, v)
				}
			}
			if r.status >= 400 && tt.method != "HEAD" {
				var e struct{ Error string }
				if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
					t.Errorf("%s %s: error body %s is not {\"error\":…}", tt.method, tt.path, r.body)
				}
			}
		})
	}

	t.Run("metrics", func(t *testing.T) {
		r := do(t, "GET", ts.url+"/metrics", nil, nil)
		if r.status != 200 {
			t.Fatalf("GET /metrics = %d", r.status)
		}
		for _, w := range []string{
			`ipintel_lookups_total{action="block"}`, `ipintel_lookups_total{action="challenge"}`, `ipintel_lookups_total{action="allow"}`,
			"ipintel_db_age_seconds ", "ipintel_db_networks ", "ipintel_db_bytes ", "ipintel_reloads_total 0",
			"ipintel_reload_failures_total 0", `ipintel_request_duration_seconds_bucket{route="/v1/ip"`,
			"ipintel_auth_client_address_errors_total 1",
		} {
			if !bytes.Contains(r.body, []byte(w)) {
				t.Errorf("/metrics lacks %q", w)
			}
		}
	})
}

// TestServeDecidedScore checks that every answer shows the score its
// action was decided on and whose it is: on a database that stores no
// risk_score (as MaxMind's Anonymous IP files do), the policy's, never a
// stored 0 beside a block; and the relay and provider fields.
func TestServeDecidedScore(t *testing.T) {
	t.Parallel()
	nets := append([]testNet{
		{cidr: "100.64.0.0/24", cats: lookup.CategoryTorExit, unscored: true},
		{cidr: "100.64.1.0/24", cats: lookup.CategoryVPN | lookup.CategoryHosting, unscored: true, provider: "Example VPN", confidence: 60},
	}, plusNets...)
	ts := startServe(t, serveConfig{db: writeTestDB(t, filepath.Join(t.TempDir(), "mixed.mmdb"), nets, nil), maxBatch: 10})
	for _, tt := range []struct {
		name       string
		method     string
		path       string
		header     http.Header
		body       string
		wantStatus int
		wantBody   []string
		wantHeader map[string]string
	}{
		{name: "ip unscored tor", method: "GET", path: "/v1/ip/100.64.0.1", wantStatus: 200,
			wantBody: []string{`"risk_score":90,"risk_score_source":"policy","sources":[],"action":"block"}`}},
		{name: "ip stored", method: "GET", path: "/v1/ip/2001:db8:7::1", wantStatus: 200,
			wantBody: []string{`"provider_name":"Tor","anonymizer_confidence":99,"network_last_seen":"2026-01-02","network_first_seen":"2025-06-01","risk_score":96,"risk_score_source":"stored"`}},
		{name: "ip relay", method: "GET", path: "/v1/ip/192.0.2.1", wantStatus: 200,
			wantBody: []string{`"is_relay":true`, `"provider_name":"iCloud Private Relay"`, `"risk_score":0,"risk_score_source":"stored"`, `"action":"allow"`}},
		{name: "batch", method: "POST", path: "/v1/ips", body: `["100.64.1.1","198.51.100.9"]`, wantStatus: 200,
			wantBody: []string{`"provider_name":"Example VPN","anonymizer_confidence":60,"network_last_seen":"","network_first_seen":"","risk_score":70,"risk_score_source":"policy","sources":[],"action":"challenge"}`,
				`"risk_score":70,"risk_score_source":"stored","sources":["cdn-ranges","hosting-asn","vpn-servers"],"action":"challenge"}]`}},
		{name: "flat unscored", method: "GET", path: "/json/100.64.1.1", wantStatus: 200,
			wantBody: []string{`"is_relay":false,"asn":0,"isp":"","provider":"Example VPN","risk_score":70,"risk_score_source":"policy"}`}},
		{name: "flat relay", method: "GET", path: "/json/192.0.2.1", wantStatus: 200,
			wantBody: []string{`"is_relay":true,"asn":64510,"isp":"Example CDN","provider":"iCloud Private Relay","risk_score":0,"risk_score_source":"stored"}`}},
		{name: "reputation unscored", method: "GET", path: "/v1/reputation?ip=100.64.0.9", wantStatus: 200,
			wantBody: []string{`"security":{"vpn":false,"proxy":false,"tor":true,"hosting":false,"abuse":false,"crawler":false,"relay":false,"provider":"","risk_score":90,"risk_score_source":"policy","action":"block"}`}},
		{name: "reputation relay", method: "GET", path: "/v1/reputation?ip=192.0.2.1", wantStatus: 200,
			wantBody: []string{`"relay":true,"provider":"iCloud Private Relay","risk_score":0,"risk_score_source":"stored","action":"allow"`}},
		{name: "auth unscored", method: "GET", path: "/v1/auth", header: http.Header{"X-Forwarded-For": {"100.64.0.1"}}, wantStatus: 403,
			wantHeader: map[string]string{"X-Ipintel-Action": "block", "X-Ipintel-Score": "90", "X-Ipintel-Score-Source": "policy", "X-Ipintel-Categories": "tor_exit"}},
		{name: "auth stored", method: "GET", path: "/v1/auth", header: http.Header{"X-Forwarded-For": {"2001:db8:7::1"}}, wantStatus: 403,
			wantHeader: map[string]string{"X-Ipintel-Score": "96", "X-Ipintel-Score-Source": "stored", "X-Ipintel-Categories": "tor_exit,abuse"}},
		{name: "auth relay", method: "GET", path: "/v1/auth", header: http.Header{"X-Forwarded-For": {"192.0.2.1"}}, wantStatus: 200,
			wantHeader: map[string]string{"X-Ipintel-Action": "allow", "X-Ipintel-Score": "0", "X-Ipintel-Categories": "relay"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := do(t, tt.method, ts.url+tt.path, tt.header, body)
			if r.status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, r.status, r.body, tt.wantStatus)
			}
			for _, w := range tt.wantBody {
				if !bytes.Contains(r.body, []byte(w)) {
					t.Errorf("%s %s body = %s, want it to contain %s", tt.method, tt.path, r.body, w)
				}
			}
			for k, v := range tt.wantHeader {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s %s header %s = %q, want %q", tt.method, tt.path, k, got, v)
				}
			}
		})
	}
}

func TestServeReadyzStale(t *testing.T) {
	t.Parallel()
	ts := startServe(t, serveConfig{db: sampleDB(t), maxAge: time.Hour})
	r := do(t, "GET", ts.url+"/readyz", nil, nil)
	if r.status != 503 || !bytes.Contains(r.body, []byte(`"status":"stale"`)) {
		t.Fatalf("GET /readyz = %d %s, want 503 stale (build_epoch is in 2026-01)", r.status, r.body)
	}
}

// TestServeThresholds checks that -block-at and -challenge-at change the
// actions without a rebuild.
func TestServeThresholds(t *testing.T) {
	t.Parallel()
	ts := startServe(t, serveConfig{db: sampleDB(t), blockAt: 99, challengeAt: 95})
	if a := getAnswer(t, ts.url, "192.0.2.10"); a.Action != "challenge" || a.RiskScore != 98 {
		t.Errorf("score 98 with block at 99, challenge at 95: %s, want challenge", a.Action)
	}
	if a := getAnswer(t, ts.url, "2001:db8:2::1"); a.Action != "allow" {
		t.Errorf("score 90 with challenge at 95: %s, want allow", a.Action)
	}
	r := do(t, "GET", ts.url+"/v1/auth", http.Header{"X-Forwarded-For": {"192.0.2.10"}}, nil)
	if r.status != 401 {
		t.Errorf("/v1/auth with score 98, block at 99: %d, want 401", r.status)
	}
}

func TestServeTrustedProxy(t *testing.T) {
	t.Parallel()
	// With only the peer's own network trusted the chain is walked; with a
	// chain element outside every trusted network the walk stops there.
	ts := startServe(t, serveConfig{db: sampleDB(t), trusted: nil})
	r := do(t, "GET", ts.url+"/v1/auth", http.Header{"X-Forwarded-For": {"192.0.2.10, 203.0.113.5"}}, nil)
	if got := r.header.Get("X-Ipintel-Client"); r.status != 200 || got != "203.0.113.5" {
		t.Fatalf("untrusted hop: %d client %q, want 200 and 203.0.113.5", r.status, got)
	}
	ts2 := startServe(t, serveConfig{db: sampleDB(t), trusted: mustPrefixes("203.0.113.0/24")})
	r = do(t, "GET", ts2.url+"/v1/auth", http.Header{"X-Forwarded-For": {"192.0.2.10, 203.0.113.5"}}, nil)
	if got := r.header.Get("X-Ipintel-Client"); r.status != 403 || got != "192.0.2.10" {
		t.Fatalf("trusted hop: %d client %q, want 403 and 192.0.2.10", r.status, got)
	}
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func metricValue(t *testing.T, base, name string) string {
	t.Helper()
	r := do(t, "GET", base+"/metrics", nil, nil)
	for line := range strings.SplitSeq(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("metric %s not found", name)
	return ""
}

// TestServeSwapUnderLoad renames a new database over the served one while
// several clients keep asking: no request fails, and the new answers appear.
func TestServeSwapUnderLoad(t *testing.T) {
	t.Parallel()
	path := sampleDB(t)
	ts := startServe(t, serveConfig{db: path})

	ctx, stop := context.WithCancel(context.Background())
	var requests, failures atomic.Int64
	var sawNew atomic.Bool
	var firstErr atomic.Value
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 6 {
		wg.Go(func() {
			for ctx.Err() == nil {
				for _, addr := range []string{"192.0.2.10", "2001:db8:3::1", "198.51.100.5"} {
					resp, err := client.Get(ts.url + "/v1/ip/" + addr)
					requests.Add(1)
					if err != nil {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					var a serve.Answer
					err = json.NewDecoder(resp.Body).Decode(&a)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || a.IP != addr {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %v", addr, resp.StatusCode, err))
						continue
					}
					if addr == "2001:db8:3::1" && a.Found {
						sawNew.Store(true)
					}
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	replaceFile(t, path, func(tmp string) { writeTestDB(t, tmp, sampleNewNets, testManifest(len(sampleNewNets))) })
	waitFor(t, "the new database's answers", sawNew.Load)
	time.Sleep(100 * time.Millisecond)
	stop()
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during the swap; first: %v", n, requests.Load(), firstErr.Load())
	}
	t.Logf("%d requests, 0 failures", requests.Load())
	if a := getAnswer(t, ts.url, "192.0.2.10"); a.Action != "challenge" || a.RiskScore != 76 {
		t.Errorf("after swap 192.0.2.10 = %s %d, want challenge 76", a.Action, a.RiskScore)
	}
	if v := metricValue(t, ts.url, "ipintel_reloads_total"); v != "1" {
		t.Errorf("ipintel_reloads_total = %s, want 1", v)
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
	var errb lockedBuffer
	done := make(chan int, 1)
	db := sampleDB(t)
	go func() { done <- run(ctx, []string{"serve", "-db", db, "-listen", addr}, nil, io.Discard, &errb) }()
	waitFor(t, "the server", func() bool {
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

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
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
	if a := getAnswer(t, ts.url, "192.0.2.10"); a.Action != "block" {
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
	if a := getAnswer(t, ts.url, "192.0.2.10"); a.Action != "block" {
		t.Errorf("after the limits: %s, want block", a.Action)
	}
}
