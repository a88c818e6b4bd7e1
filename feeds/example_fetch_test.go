package feeds_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/ipintel/ipintel/feeds"
)

// ExampleFetcher fetches a feed, parses it and commits it as the last good
// copy once it passes a sanity gate. The second fetch gets a 304 and uses
// the cached copy. Then the upstream publishes an empty file: the gate
// rejects it and the build falls back to the last good copy.
func ExampleFetcher() {
	var published atomic.Pointer[[]byte]
	list := []byte("# example list\n192.0.2.1\n198.51.100.0/24\n203.0.113.7-203.0.113.8\n")
	published.Store(&list)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := *published.Load()
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, len(body)))
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))
	defer srv.Close()
	cacheDir, err := os.MkdirTemp("", "ipintel-cache-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(cacheDir)

	f := &feeds.Fetcher{CacheDir: cacheDir}
	ctx := context.Background()
	for round := 1; round <= 3; round++ {
		if round == 3 {
			published.Store(new([]byte)) // upstream accident: an empty list
		}
		d, err := f.Fetch(ctx, "example", srv.URL+"/list.txt", "")
		if err != nil {
			panic(err)
		}
		n, err := countEntries(d)
		if err != nil || n < 1 { // the sanity gate (min_entries = 1)
			fmt.Printf("round %d: rejected %d bytes, %d entries\n", round, d.Size, n)
			if err := d.Discard(); err != nil {
				panic(err)
			}
			if d, err = f.LastGood("example"); err != nil {
				panic(err)
			}
			n = d.Entries
		} else if err := d.Commit(n); err != nil {
			panic(err)
		}
		fmt.Printf("round %d: %d bytes, %d entries, ETag %s, not modified: %v, from cache: %v\n",
			round, d.Size, n, d.ETag, d.NotModified, d.FromCache)
	}
	// Output:
	// round 1: 65 bytes, 4 entries, ETag "65", not modified: false, from cache: false
	// round 2: 65 bytes, 4 entries, ETag "65", not modified: true, from cache: true
	// round 3: rejected 0 bytes, 0 entries
	// round 3: 65 bytes, 4 entries, ETag "65", not modified: false, from cache: true
}

// countEntries parses a downloaded ip-list feed and counts its prefixes.
func countEntries(d *feeds.Download) (int, error) {
	rc, err := d.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n := 0
	_, err = feeds.Parse(rc, feeds.Options{Format: feeds.FormatIPList, Source: d.Name}, func(feeds.Entry) { n++ })
	return n, err
}
