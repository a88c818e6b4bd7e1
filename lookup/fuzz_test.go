package lookup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
)

// FuzzOpenBytes checks that no input makes OpenBytes panic, and that a
// database it accepts passes Verify and answers lookups without panicking.
// Seeds: every MaxMind test and bad-data database (well-formed trees of
// each record size and IP version, aliases, broken pointers, broken trees,
// corrupt metadata), plus a few degenerate inputs.
func FuzzOpenBytes(f *testing.F) {
	f.Add([]byte{})                                   // empty
	f.Add(metadataMarker)                             // a marker and nothing else
	f.Add(append([]byte{0, 0, 0}, metadataMarker...)) // tree bytes, no metadata map
	if dir := sharedFeedsOrEmpty(f); dir != "" {
		for _, pattern := range []string{"test-data/*.mmdb", "bad-data/*/*.mmdb"} {
			files, _ := filepath.Glob(filepath.Join(dir, "mmdb-testdata", pattern))
			for _, p := range files {
				b, err := os.ReadFile(p)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		db, err := OpenBytes(b)
		if err != nil {
			return
		}
		if err := db.Verify(); err != nil {
			t.Fatalf("OpenBytes accepted a database that fails Verify: %v", err)
		}
		exerciseDB(db)
	})
}

// sharedFeedsOrEmpty returns the shared corpus directory. When it is
// absent the fuzz target still runs its built-in seeds, except under CI,
// where testenv.SharedFeeds fails.
func sharedFeedsOrEmpty(f *testing.F) string {
	dir := os.Getenv("IPINTEL_SHARED_FEEDS")
	if dir == "" {
		dir = filepath.Join(testenv.RepoRoot(), "..", "shared", "feeds")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
		if os.Getenv("CI") == "true" {
			return testenv.SharedFeeds(f)
		}
		return ""
	}
	return dir
}
