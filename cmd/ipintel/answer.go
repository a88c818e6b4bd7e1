package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
)

var (
	errZoned = errors.New("zoned address not allowed")
	errEmpty = errors.New("empty address")
)

// parseQueryAddr parses an address given by a user or a client: no zone,
// IPv4-mapped IPv6 unmapped (docs/design.md §5: a zoned address is not a
// public address).
func parseQueryAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errEmpty
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: %w", s, errZoned)
	}
	return a.Unmap(), nil
}

// marshalIndent returns v as indented JSON ending in a newline.
func marshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return append(b, '\n'), nil
}
