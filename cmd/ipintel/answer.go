package main

import (
	"encoding/json"
	"fmt"
)

// marshalIndent returns v as indented JSON ending in a newline.
func marshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return append(b, '\n'), nil
}
