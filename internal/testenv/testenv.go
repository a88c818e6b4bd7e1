// Package testenv locates the shared feed corpus for tests and benchmarks.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedFeeds returns the directory of the real feed snapshots
// (../shared/feeds beside the repository, or $IPINTEL_SHARED_FEEDS).
// When it is absent the test is skipped, except under CI=true, where a
// missing corpus fails the test: CI must exercise the real data.
func SharedFeeds(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("IPINTEL_SHARED_FEEDS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared", "feeds")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("shared feed corpus not found at %s (CI=true): %v", dir, err)
		}
		tb.Skipf("shared feed corpus not found at %s", dir)
	}
	return dir
}

// RepoRoot returns the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
