package httpguard_test

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/ipintel/ipintel/internal/testdb"
	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/lookup/httpguard"
	"github.com/ipintel/ipintel/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/guard.mmdb")

const fixture = "testdata/guard.mmdb"

// TestFixture rewrites testdata/guard.mmdb with -update and checks that the
// committed file holds what the tests and the example expect.
func TestFixture(t *testing.T) {
	if *update {
		writeFixture(t)
	}
	db := openFixture(t)
	for _, tt := range []struct {
		addr string
		cats lookup.Category
	}{
		{"192.0.2.7", lookup.CategoryTorExit},
		{"198.51.100.7", lookup.CategoryVPN},
		{"2001:db8::1", lookup.CategoryHosting},
	} {
		rec, ok := db.Lookup(netip.MustParseAddr(tt.addr))
		if !ok || rec.Categories != tt.cats {
			t.Errorf("Lookup(%s) = %v, %v, want %v", tt.addr, rec.Categories, ok, tt.cats)
		}
	}
}

func writeFixture(t *testing.T) {
	rec := func(key string, score uint16, source string) map[string]any {
		return map[string]any{
			key:                   true,
			schema.KeyIsAnonymous: true,
			schema.KeyRiskScore:   score,
			schema.KeySources:     []string{source},
			schema.KeyASN:         uint32(64500),
			schema.KeyASOrg:       "Example Net",
		}
	}
	testdb.Write(t, fixture, testdb.Options{
		DatabaseType: schema.DefaultDatabaseType,
		Description:  map[string]string{"en": "httpguard test database"},
	},
		testdb.Net("192.0.2.0/24", rec(schema.KeyIsTorExitNode, 90, "tor-exits")),
		testdb.Net("198.51.100.0/24", rec(schema.KeyIsAnonymousVPN, 50, "vpn-ranges")),
		testdb.Net("2001:db8::/32", rec(schema.KeyIsHostingProvider, 40, "hosting")),
	)
}

func openFixture(tb testing.TB) *lookup.DB {
	tb.Helper()
	db, err := lookup.Open(fixture)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestGuard(t *testing.T) {
	t.Parallel()
	h := lookup.NewHandle(openFixture(t))
	challenged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, v, ok := httpguard.FromContext(r.Context()); !ok || v.Action != lookup.ActionChallenge {
			t.Errorf("OnChallenge: FromContext = %v, %v", v, ok)
		}
		http.Redirect(w, r, "/captcha", http.StatusSeeOther)
	})
	strict := lookup.Policy{BlockAt: 40}
	tests := []struct {
		name       string
		opts       httpguard.Options
		peer       string
		xff        string
		wantStatus int
		wantAction lookup.Action
		wantBody   string
	}{
		{name: "miss passes", peer: "203.0.113.1:1", wantStatus: 200, wantAction: lookup.ActionAllow},
		{name: "hosting passes", peer: "[2001:db8::5]:1", wantStatus: 200, wantAction: lookup.ActionAllow},
		{name: "block default", peer: "192.0.2.1:1", wantStatus: 403,
			wantBody: `{"error":"blocked","action":"block","score":90,"score_source":"stored","categories":"tor_exit"}` + "\n"},
		{name: "block via proxy", peer: "127.0.0.1:1", xff: "192.0.2.1", wantStatus: 403},
		{name: "spoofed header from untrusted peer", peer: "203.0.113.1:1", xff: "192.0.2.1", wantStatus: 200, wantAction: lookup.ActionAllow},
		{name: "challenge passes by default", peer: "198.51.100.1:1", wantStatus: 200, wantAction: lookup.ActionChallenge},
		{name: "challenge hook", opts: httpguard.Options{OnChallenge: challenged}, peer: "198.51.100.1:1", wantStatus: 303},
		{name: "block hook", opts: httpguard.Options{OnBlock: http.NotFoundHandler()}, peer: "192.0.2.1:1", wantStatus: 404},
		{name: "policy", opts: httpguard.Options{Policy: &strict}, peer: "[2001:db8::5]:1", wantStatus: 403},
		{name: "trusted proxies", opts: httpguard.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			peer: "10.1.2.3:1", xff: "192.0.2.1", wantStatus: 403},
		{name: "loopback not trusted when others given", opts: httpguard.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			peer: "127.0.0.1:1", xff: "192.0.2.1", wantStatus: 200, wantAction: lookup.ActionAllow},
		{name: "garbled header fails open", peer: "127.0.0.1:1", xff: "garbage", wantStatus: 200, wantAction: lookup.ActionAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var gotAction lookup.Action = 99
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, v, ok := httpguard.FromContext(r.Context())
				if !ok {
					t.Error("FromContext: no verdict in the context")
				}
				gotAction = v.Action
			})
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tt.peer
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			rr := httptest.NewRecorder()
			httpguard.New(h, tt.opts).Wrap(app).ServeHTTP(rr, req)
			if rr.Code != tt.wantStatus {
				t.Fatalf("status = %d %s, want %d", rr.Code, rr.Body, tt.wantStatus)
			}
			if tt.wantStatus == 200 && gotAction != tt.wantAction {
				t.Errorf("handler saw action %v, want %v", gotAction, tt.wantAction)
			}
			if tt.wantBody != "" && rr.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", rr.Body, tt.wantBody)
			}
		})
	}
}

// TestGuardScore checks that the verdict in the 403 body and in the
// context carries the score the action was decided on, with its source:
// the stored risk_score, or the policy's when the database stores none
// (as MaxMind's Anonymous IP files do) or the policy has its own weights.
func TestGuardScore(t *testing.T) {
	t.Parallel()
	anon := func(key string) map[string]any { return map[string]any{key: true, schema.KeyIsAnonymous: true} }
	path := testdb.WriteTemp(t, "anon.mmdb", testdb.Options{DatabaseType: "GeoIP2-Anonymous-IP"},
		testdb.Net("192.0.2.0/24", anon(schema.KeyIsTorExitNode)),
		testdb.Net("198.51.100.0/24", anon(schema.KeyIsAnonymousVPN)))
	unscored, err := lookup.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	weights := lookup.Policy{Weights: lookup.DefaultWeights()}
	weights.Weights[0] = 0.7 // tor_exit
	for _, tt := range []struct {
		name       string
		db         *lookup.DB
		policy     *lookup.Policy
		peer       string
		wantStatus int
		want       lookup.Verdict
		wantBody   string
	}{
		{name: "stored", db: openFixture(t), peer: "198.51.100.1:1", wantStatus: 200,
			want: lookup.Verdict{Action: lookup.ActionChallenge, Score: 50, Source: lookup.ScoreSourceStored, Reasons: lookup.CategoryVPN}},
		{name: "stored block", db: openFixture(t), peer: "192.0.2.1:1", wantStatus: 403,
			want:     lookup.Verdict{Action: lookup.ActionBlock, Score: 90, Source: lookup.ScoreSourceStored, Reasons: lookup.CategoryTorExit},
			wantBody: `{"error":"blocked","action":"block","score":90,"score_source":"stored","categories":"tor_exit"}` + "\n"},
		{name: "policy weights", db: openFixture(t), policy: &weights, peer: "192.0.2.1:1", wantStatus: 200,
			want: lookup.Verdict{Action: lookup.ActionChallenge, Score: 70, Source: lookup.ScoreSourcePolicy, Reasons: lookup.CategoryTorExit}},
		{name: "no stored score", db: unscored, peer: "192.0.2.1:1", wantStatus: 403,
			want:     lookup.Verdict{Action: lookup.ActionBlock, Score: 90, Source: lookup.ScoreSourcePolicy, Reasons: lookup.CategoryTorExit},
			wantBody: `{"error":"blocked","action":"block","score":90,"score_source":"policy","categories":"tor_exit"}` + "\n"},
		{name: "no stored score, vpn", db: unscored, peer: "198.51.100.1:1", wantStatus: 200,
			want: lookup.Verdict{Action: lookup.ActionChallenge, Score: 50, Source: lookup.ScoreSourcePolicy, Reasons: lookup.CategoryVPN}},
		{name: "miss", db: unscored, peer: "203.0.113.1:1", wantStatus: 200, want: lookup.Verdict{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got lookup.Verdict
			seen := false
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, got, seen = httpguard.FromContext(r.Context())
			})
			onBlock := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, v, ok := httpguard.FromContext(r.Context()); !ok || v != tt.want {
					t.Errorf("OnBlock: FromContext = %+v, %v; want %+v", v, ok, tt.want)
				}
			})
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tt.peer
			g := httpguard.New(lookup.NewHandle(tt.db), httpguard.Options{Policy: tt.policy})
			if _, _, v, err := g.Decide(req); err != nil || v != tt.want {
				t.Errorf("Decide = %+v, %v; want %+v", v, err, tt.want)
			}
			rr := httptest.NewRecorder()
			g.Wrap(app).ServeHTTP(rr, req)
			if rr.Code != tt.wantStatus || rr.Body.String() != tt.wantBody {
				t.Errorf("status %d, body %q; want %d, %q", rr.Code, rr.Body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus == 200 && (!seen || got != tt.want) {
				t.Errorf("FromContext = %+v, %v; want %+v", got, seen, tt.want)
			}
			if tt.wantStatus == 403 {
				httpguard.New(lookup.NewHandle(tt.db), httpguard.Options{Policy: tt.policy, OnBlock: onBlock}).Wrap(app).ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

func TestGuardNoDatabase(t *testing.T) {
	t.Parallel()
	g := httpguard.New(&lookup.Handle{}, httpguard.Options{})
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "192.0.2.1:1"
	_, rec, v, err := g.Decide(req)
	if err != nil || rec != (lookup.Record{}) || v.Action != lookup.ActionAllow {
		t.Fatalf("Decide without a database = %v, %v, %v, want a miss allowed", rec, v, err)
	}
}

func TestFromContextEmpty(t *testing.T) {
	t.Parallel()
	if _, _, ok := httpguard.FromContext(t.Context()); ok {
		t.Fatal("FromContext on a bare context reports a verdict")
	}
}

// discard is a ResponseWriter that keeps nothing, so the benchmark
// measures the guard rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkMiddleware measures what the guard adds to a request: "bare"
// is the handler alone, the others go through Wrap.
func BenchmarkMiddleware(b *testing.B) {
	h := lookup.NewHandle(openFixture(b))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, bc := range []struct {
		name    string
		handler http.Handler
		peer    string
		xff     string
	}{
		{"bare", ok, "203.0.113.1:1", ""},
		{"allow", httpguard.New(h, httpguard.Options{}).Wrap(ok), "203.0.113.1:1", ""},
		{"allow-xff", httpguard.New(h, httpguard.Options{}).Wrap(ok), "127.0.0.1:1", "203.0.113.1, 127.0.0.2"},
		{"block", httpguard.New(h, httpguard.Options{}).Wrap(ok), "192.0.2.1:1", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = bc.peer
			if bc.xff != "" {
				req.Header.Set("X-Forwarded-For", bc.xff)
			}
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bc.handler.ServeHTTP(w, req)
			}
		})
	}
}
