package httpguard_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/lookup/httpguard"
)

// Example guards an application behind a local reverse proxy: the test
// server's peer is loopback, which is trusted, so the client address comes
// from X-Forwarded-For. Challenged clients are sent to a CAPTCHA page;
// blocked ones get the default 403.
func Example() {
	db, err := lookup.Open("testdata/guard.mmdb")
	if err != nil {
		panic(err)
	}
	guard := httpguard.New(lookup.NewHandle(db), httpguard.Options{
		OnChallenge: http.RedirectHandler("/captcha", http.StatusSeeOther),
	})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, v, _ := httpguard.FromContext(r.Context())
		fmt.Fprintf(w, "welcome (%s, score %d, categories %s)", v.Action, v.Score, rec.Categories)
	})
	srv := httptest.NewServer(guard.Wrap(app))
	defer srv.Close()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, addr := range []string{"203.0.113.7", "2001:db8::7", "198.51.100.7", "192.0.2.7"} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(addr, resp.StatusCode, resp.Header.Get("Location"), strings.TrimSpace(string(body)))
	}
	// Output:
	// 203.0.113.7 200  welcome (allow, score 0, categories none)
	// 2001:db8::7 200  welcome (allow, score 40, categories hosting)
	// 198.51.100.7 303 /captcha <a href="/captcha">See Other</a>.
	// 192.0.2.7 403  {"error":"blocked","action":"block","score":90,"score_source":"stored","categories":"tor_exit"}
}
