package schema

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		desc      map[string]string
		found     bool
		wantErr   string
		wantFeeds int
	}{
		{name: "no description", desc: nil},
		{name: "other languages only", desc: map[string]string{"en": "ipintel"}},
		{name: "valid", desc: map[string]string{ManifestDescriptionKey: `{"schema_version":1,"feeds":[{"name":"tor"}]}`}, found: true, wantFeeds: 1},
		{name: "not JSON", desc: map[string]string{ManifestDescriptionKey: `{"feeds":`}, found: true, wantErr: "manifest: unexpected end of JSON input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, found, err := ParseManifest(tc.desc)
			if found != tc.found {
				t.Errorf("found = %v, want %v", found, tc.found)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			if len(m.Feeds) != tc.wantFeeds {
				t.Errorf("%d feeds, want %d", len(m.Feeds), tc.wantFeeds)
			}
		})
	}
}

// A manifest line written before records had their own key reads with
// its counts in their present places.
func TestManifestFeedLegacyCounts(t *testing.T) {
	for _, tc := range []struct {
		js               string
		records, entries int
	}{
		{`{"name":"a","entries":20,"prefixes":18,"invalid":1}`, 20, 18},
		{`{"name":"a","records":20,"entries":18,"invalid":1}`, 20, 18},
	} {
		var f ManifestFeed
		if err := json.Unmarshal([]byte(tc.js), &f); err != nil {
			t.Fatal(err)
		}
		if f.Records != tc.records || f.Entries != tc.entries || f.Invalid != 1 || f.Name != "a" {
			t.Errorf("%s read as %+v", tc.js, f)
		}
	}
}
