package builder_test

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/internal/oracle"
	"github.com/ipintel/ipintel/schema"
)

// The output does not depend on the order of the feeds within a kind nor
// on the order of their entries (asn feeds keep their order: it breaks
// ties by design).
func TestBuildDeterministic(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(42, 42))
	fs := synthetic(r)
	opts := builder.Options{BuildEpoch: 1767225600}
	want := buildFeeds(t, fs, opts)
	for round := range 3 {
		shuffled := make([]oracle.Feed, len(fs))
		copy(shuffled, fs)
		for i := range shuffled {
			shuffled[i].Entries = slices.Clone(shuffled[i].Entries)
			r.Shuffle(len(shuffled[i].Entries), func(a, b int) {
				shuffled[i].Entries[a], shuffled[i].Entries[b] = shuffled[i].Entries[b], shuffled[i].Entries[a]
			})
		}
		// Shuffle the non-asn feeds among themselves, keeping asn feeds first in order.
		rest := shuffled[3:]
		r.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
		for _, f := range shuffled[:3] {
			if f.Kind != schema.KindASN {
				t.Fatal("synthetic feeds no longer start with the asn feeds")
			}
		}
		if got := buildFeeds(t, shuffled, opts); !bytes.Equal(got, want) {
			t.Errorf("round %d: shuffled feeds and entries give different bytes", round)
		}
	}
	// And a different epoch does change the file: the comparison can fail.
	if got := buildFeeds(t, fs, builder.Options{BuildEpoch: 1767225601}); bytes.Equal(got, want) {
		t.Error("a different build epoch gave the same bytes")
	}
}

func TestScore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ws   []float64
		want uint16
	}{
		{nil, 0},
		{[]float64{0.9}, 90},
		{[]float64{0.5, 0.5}, 75},
		{[]float64{0.4, 0.4, 0.4}, 78},
		{[]float64{0.1, 0.1, 0.5}, 60}, // 59.5 exactly: rounds up
		{[]float64{0.5, 0.01}, 51},     // 50.5
		{[]float64{1, 0.2}, 100},
		{[]float64{0, 0}, 0},
	} {
		if got := builder.Score(tc.ws); got != tc.want {
			t.Errorf("Score(%v) = %d, want %d", tc.ws, got, tc.want)
		}
		if got := oracle.ExactScore(tc.ws); got != tc.want {
			t.Errorf("oracle.ExactScore(%v) = %d, want %d", tc.ws, got, tc.want)
		}
	}
}
