package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestServeFixtures checks that serve's committed sample databases are
// the ones these tests write, and rewrites them with -update. (mixed.mmdb
// there has no writer here and is left alone.)
func TestServeFixtures(t *testing.T) {
	dir := t.TempDir()
	for name, path := range map[string]string{
		"sample.mmdb":     writeTestDB(t, filepath.Join(dir, "sample.mmdb"), sampleNets, testManifest(len(sampleNets))),
		"sample-new.mmdb": writeTestDB(t, filepath.Join(dir, "sample-new.mmdb"), sampleNewNets, testManifest(len(sampleNewNets))),
		"empty.mmdb":      emptyDB(t),
		"unverified.mmdb": unverifiedDB(t),
	} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		committed := filepath.Join("..", "..", "serve", "testdata", name)
		if *update {
			if err := os.WriteFile(committed, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the tests write; rerun with -update", committed)
		}
	}
}
