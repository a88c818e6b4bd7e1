package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipintel/ipintel/internal/testhttp"
	"github.com/ipintel/ipintel/lookup"
)

func TestEndpoints(t *testing.T) {
	t.Parallel()
	ts := startServer(t, copyDB(t, "sample.mmdb"), Options{MaxBatch: 3})

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
			r := testhttp.Do(t, tt.method, ts.url+tt.path, tt.header, body)
			if r.Status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, r.Status, r.Body, tt.wantStatus)
			}
			for _, w := range tt.wantBody {
				if !bytes.Contains(r.Body, []byte(w)) {
					t.Errorf("%s %s body = %s, want it to contain %s", tt.method, tt.path, r.Body, w)
				}
			}
			for k, v := range tt.wantHeader {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s %s header %s = %q, want %q", tt.method, tt.path, k, got, v)
				}
			}
			if r.Status >= 400 && tt.method != "HEAD" {
				var e struct{ Error string }
				if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" {
					t.Errorf("%s %s: error body %s is not {\"error\":…}", tt.method, tt.path, r.Body)
				}
			}
		})
	}

	t.Run("metrics", func(t *testing.T) {
		r := testhttp.Do(t, "GET", ts.url+"/metrics", nil, nil)
		if r.Status != 200 {
			t.Fatalf("GET /metrics = %d", r.Status)
		}
		for _, w := range []string{
			`ipintel_lookups_total{action="block"}`, `ipintel_lookups_total{action="challenge"}`, `ipintel_lookups_total{action="allow"}`,
			"ipintel_db_age_seconds ", "ipintel_db_networks ", "ipintel_db_bytes ", "ipintel_reloads_total 0",
			"ipintel_reload_failures_total 0", `ipintel_request_duration_seconds_bucket{route="/v1/ip"`,
			"ipintel_auth_client_address_errors_total 1",
		} {
			if !bytes.Contains(r.Body, []byte(w)) {
				t.Errorf("/metrics lacks %q", w)
			}
		}
	})
}

// TestDecidedScore checks that every answer shows the score its
// action was decided on and whose it is: on a database that stores no
// risk_score (as MaxMind's Anonymous IP files do), the policy's, never a
// stored 0 beside a block; and the relay and provider fields.
func TestDecidedScore(t *testing.T) {
	t.Parallel()
	// mixed.mmdb: 100.64.0.0/24 a Tor exit and 100.64.1.0/24 a VPN
	// (provider "Example VPN", confidence 60) with no stored risk_score,
	// beside cmd/ipintel's "plus" networks, which have one.
	ts := startServer(t, copyDB(t, "mixed.mmdb"), Options{MaxBatch: 10})
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
			r := testhttp.Do(t, tt.method, ts.url+tt.path, tt.header, body)
			if r.Status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, r.Status, r.Body, tt.wantStatus)
			}
			for _, w := range tt.wantBody {
				if !bytes.Contains(r.Body, []byte(w)) {
					t.Errorf("%s %s body = %s, want it to contain %s", tt.method, tt.path, r.Body, w)
				}
			}
			for k, v := range tt.wantHeader {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s %s header %s = %q, want %q", tt.method, tt.path, k, got, v)
				}
			}
		})
	}
}

func TestReadyzStale(t *testing.T) {
	t.Parallel()
	ts := startServer(t, copyDB(t, "sample.mmdb"), Options{MaxAge: time.Hour})
	r := testhttp.Do(t, "GET", ts.url+"/readyz", nil, nil)
	if r.Status != 503 || !bytes.Contains(r.Body, []byte(`"status":"stale"`)) {
		t.Fatalf("GET /readyz = %d %s, want 503 stale (build_epoch is in 2026-01)", r.Status, r.Body)
	}
}

// TestThresholds checks that the policy's thresholds change the actions
// without a rebuild.
func TestThresholds(t *testing.T) {
	t.Parallel()
	ts := startServer(t, copyDB(t, "sample.mmdb"), Options{Policy: &lookup.Policy{BlockAt: 99, ChallengeAt: 95}})
	if a := testhttp.GetAnswer[Answer](t, ts.url, "192.0.2.10"); a.Action != "challenge" || a.RiskScore != 98 {
		t.Errorf("score 98 with block at 99, challenge at 95: %s, want challenge", a.Action)
	}
	if a := testhttp.GetAnswer[Answer](t, ts.url, "2001:db8:2::1"); a.Action != "allow" {
		t.Errorf("score 90 with challenge at 95: %s, want allow", a.Action)
	}
	r := testhttp.Do(t, "GET", ts.url+"/v1/auth", http.Header{"X-Forwarded-For": {"192.0.2.10"}}, nil)
	if r.Status != 401 {
		t.Errorf("/v1/auth with score 98, block at 99: %d, want 401", r.Status)
	}
}

func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	// With only the peer's own network trusted the chain is walked; with a
	// chain element outside every trusted network the walk stops there.
	ts := startServer(t, copyDB(t, "sample.mmdb"), Options{})
	r := testhttp.Do(t, "GET", ts.url+"/v1/auth", http.Header{"X-Forwarded-For": {"192.0.2.10, 203.0.113.5"}}, nil)
	if got := r.Header.Get("X-Ipintel-Client"); r.Status != 200 || got != "203.0.113.5" {
		t.Fatalf("untrusted hop: %d client %q, want 200 and 203.0.113.5", r.Status, got)
	}
	ts2 := startServer(t, copyDB(t, "sample.mmdb"), Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}})
	r = testhttp.Do(t, "GET", ts2.url+"/v1/auth", http.Header{"X-Forwarded-For": {"192.0.2.10, 203.0.113.5"}}, nil)
	if got := r.Header.Get("X-Ipintel-Client"); r.Status != 403 || got != "192.0.2.10" {
		t.Fatalf("trusted hop: %d client %q, want 403 and 192.0.2.10", r.Status, got)
	}
}
