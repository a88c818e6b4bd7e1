package schema

import "testing"

func TestUnsigned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want uint64
		ok   bool
	}{
		{"uint64", uint64(1 << 40), 1 << 40, true},
		{"uint32", uint32(7), 7, true},
		{"uint16", uint16(65535), 65535, true},
		{"uint", uint(3), 3, true},
		{"int", 5, 5, true},
		{"negative int", -1, 0, false},
		{"negative int32", int32(-2), 0, false},
		{"int64", int64(9), 9, true},
		{"string", "7", 0, false},
		{"float", 7.0, 0, false},
		{"nil", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Unsigned(tt.in)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("Unsigned(%#v) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCategoryNames(t *testing.T) {
	t.Parallel()
	for _, c := range Categories() {
		got, ok := ParseCategory(c.Name())
		if !ok || got != c {
			t.Errorf("ParseCategory(%q) = %v, %v, want %v", c.Name(), got, ok, c)
		}
		if c.Key() == "" {
			t.Errorf("%v has no MMDB key", c)
		}
	}
	if got := (CategoryTorExit | CategoryAbuse).String(); got != "tor_exit,abuse" {
		t.Errorf("String() = %q, want %q", got, "tor_exit,abuse")
	}
	if got := Category(0).String(); got != "none" {
		t.Errorf("String() = %q, want none", got)
	}
	for _, k := range Kinds() {
		if _, ok := k.Category(); !ok {
			t.Errorf("Kind(%q).Category() unknown", k)
		}
	}
	if _, ok := Kind("bogus").Category(); ok {
		t.Error(`Kind("bogus").Category() known`)
	}
}

func TestScore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		weights []float64
		want    int
	}{
		{"none", nil, 0},
		{"tor", []float64{0.9}, 90},
		{"two abuse feeds", []float64{0.6, 0.8}, 92},
		// Halves the plain float product puts just below .5.
		{"0.1 and 0.45", []float64{0.1, 0.45}, 51},
		{"0.45 and 0.1", []float64{0.45, 0.1}, 51},
		{"0.1 and 0.25", []float64{0.1, 0.25}, 33},
		{"0.15 and 0.5", []float64{0.15, 0.5}, 58},
		{"certain", []float64{1, 0.3}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep := 1.0
			for _, w := range tt.weights {
				keep *= 1 - w
			}
			if got := Score(keep); got != tt.want {
				t.Errorf("Score(%v) = %d, want %d", keep, got, tt.want)
			}
		})
	}
}
