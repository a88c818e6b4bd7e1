package schema

import (
	"reflect"
	"testing"
)

// TestCategoryFlags sets each tagged field alone and checks that it maps
// to the category whose MMDB key is its tag, and that every category has
// a field.
func TestCategoryFlags(t *testing.T) {
	typ := reflect.TypeFor[CategoryFlags]()
	seen := Category(0)
	for i := range typ.NumField() {
		var f CategoryFlags
		reflect.ValueOf(&f).Elem().Field(i).SetBool(true)
		tag := typ.Field(i).Tag.Get("maxminddb")
		got := f.Categories()
		if got.Key() != tag {
			t.Errorf("field %s (tag %q) gives %v, whose key is %q", typ.Field(i).Name, tag, got, got.Key())
		}
		seen |= got
	}
	for _, c := range Categories() {
		if seen&c == 0 {
			t.Errorf("no field for category %v (%s)", c, c.Key())
		}
	}
}
