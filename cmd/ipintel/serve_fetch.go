package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// fetch polls the -db URL with a conditional GET. A new body is written to
// a temporary file beside the local copy, loaded, and only when it loads
// renamed over the local copy, so the copy on disk is always the last good
// database. The validators of a refused body are kept too, so a broken
// upload is not downloaded again until the server has a new one.
func (s *server) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.db, nil)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	req.Header.Set("User-Agent", "ipintel-serve/"+version())
	if s.etag != "" {
		req.Header.Set("If-None-Match", s.etag)
	}
	if s.lastMod != "" {
		req.Header.Set("If-Modified-Since", s.lastMod)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil
	case http.StatusOK:
	default:
		return fmt.Errorf("fetch %s: %s", s.cfg.db, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.local), ".ipintel-fetch-*")
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, s.maxBytes+1))
	if err == nil && n > s.maxBytes {
		err = fmt.Errorf("body larger than %d bytes", s.maxBytes)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", s.cfg.db, err)
	}
	s.etag, s.lastMod = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if err := s.reloadFile(tmp.Name(), "url changed"); err != nil {
		return errors.New("fetched database refused (see the reload error)")
	}
	if err := os.Rename(tmp.Name(), s.local); err != nil {
		// Serving the new database already; only the copy on disk is stale.
		return fmt.Errorf("keep local copy: %w", err)
	}
	if err := writeValidators(s.local, s.etag, s.lastMod); err != nil {
		return fmt.Errorf("keep local copy: %w", err)
	}
	return nil
}

// validators are the HTTP validators of the local copy, kept beside it so
// that a restarted server asks with a conditional GET too.
type validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

func validatorsPath(local string) string { return local + ".validators.json" }

func readValidators(local string) (etag, lastMod string) {
	b, err := os.ReadFile(validatorsPath(local))
	if err != nil {
		return "", ""
	}
	var v validators
	if json.Unmarshal(b, &v) != nil {
		return "", ""
	}
	return v.ETag, v.LastModified
}

func writeValidators(local, etag, lastMod string) error {
	b, err := json.Marshal(validators{ETag: etag, LastModified: lastMod})
	if err != nil {
		return err
	}
	tmp := validatorsPath(local) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, validatorsPath(local))
}
