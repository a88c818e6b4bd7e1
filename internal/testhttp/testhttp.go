// Package testhttp holds the HTTP helpers that the tests of the serve
// package and of the ipintel command share: requests with their whole
// answer, JSON answers, metrics, /readyz, waiting, and a log buffer safe
// for a server's goroutines.
package testhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// LockedBuffer collects a server's log for printing when a test fails; it
// is safe for concurrent writes.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Result is a whole HTTP answer.
type Result struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one request and reads its whole answer; any failure to do so
// fails the test.
func Do(tb testing.TB, method, url string, header http.Header, body io.Reader) Result {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return Result{resp.StatusCode, resp.Header, b}
}

// GetAnswer gets base/v1/ip/addr, which must answer 200, and decodes the
// answer into a T.
func GetAnswer[T any](tb testing.TB, base, addr string) T {
	tb.Helper()
	r := Do(tb, "GET", base+"/v1/ip/"+addr, nil, nil)
	if r.Status != 200 {
		tb.Fatalf("GET /v1/ip/%s = %d %s", addr, r.Status, r.Body)
	}
	var a T
	if err := json.Unmarshal(r.Body, &a); err != nil {
		tb.Fatalf("GET /v1/ip/%s: %v in %s", addr, err, r.Body)
	}
	return a
}

// MetricValue returns the value of one series of base/metrics, named with
// its labels; a series that is not there fails the test.
func MetricValue(tb testing.TB, base, name string) string {
	tb.Helper()
	r := Do(tb, "GET", base+"/metrics", nil, nil)
	for line := range strings.SplitSeq(string(r.Body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	tb.Fatalf("metric %s not found", name)
	return ""
}

// Readyz is an answer of /readyz.
type Readyz struct {
	Code     int    `json:"-"` // the HTTP status
	Status   string `json:"status"`
	Networks int    `json:"networks"`
	Ranges   int    `json:"ranges"`
}

// GetReadyz gets base/readyz.
func GetReadyz(tb testing.TB, base string) Readyz {
	tb.Helper()
	r := Do(tb, "GET", base+"/readyz", nil, nil)
	var a Readyz
	if err := json.Unmarshal(r.Body, &a); err != nil {
		tb.Fatalf("/readyz body %q: %v", r.Body, err)
	}
	a.Code = r.Status
	return a
}

// WaitFor polls cond every 10 ms and fails the test if it is not true
// within 10 s.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
