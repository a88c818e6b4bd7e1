package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The cache directory holds, per feed name N:
//
//	N.json          the sidecar: what the good copy is (see sidecar)
//	N.<sha256>.body the good copy's bytes, named after their hash
//	.N.<random>.tmp a download candidate or a file being written
//
// Feed names cannot contain '.', so these names never collide between
// feeds. Naming a body after its full hash means a new body never
// overwrites the good one unless the bytes are the same. The sidecar is the single commit point: a body is renamed into
// place first and the sidecar, written atomically, then points at it. A
// crash between the two leaves the old sidecar pointing at the old body,
// which is still there: the good copy is never lost, only an orphaned body
// is left, which the next Commit of that feed removes.

const (
	sidecarExt = ".json"
	bodyExt    = ".body"
	tempExt    = ".tmp"
	// staleTempAge is how old a feed's leftover temporary file must be
	// before a later Fetch of the same feed removes it: older than any
	// fetch could run, so it was left by a crashed process.
	staleTempAge = time.Hour
	maxNameLen   = 128
	// cacheDirPerm is the mode of a cache directory Fetch creates. The
	// cache is the builder's private working state.
	cacheDirPerm = 0o750
)

// sidecar is the JSON record of a feed's last good copy.
type sidecar struct {
	Name         string    `json:"name"`
	URL          string    `json:"url"`
	File         string    `json:"file"` // body file name in the cache directory
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	FetchedAt    time.Time `json:"fetched_at"`
	SHA256       string    `json:"sha256"`
	Size         int64     `json:"size"`
	Entries      int       `json:"entries"`
}

// nameLocks serialises Commit and LastGood per cache directory and feed
// name within the process: a Commit removes the previous body, which a
// concurrent LastGood could be reading, and two Commits could each remove
// the other's body.
var nameLocks sync.Map // cache directory + "\x00" + name → *sync.Mutex

// lockName locks name in dir and returns the unlock function.
func lockName(dir, name string) func() {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	mu, _ := nameLocks.LoadOrStore(dir+"\x00"+name, new(sync.Mutex))
	m := mu.(*sync.Mutex)
	m.Lock()
	return m.Unlock
}

// checkName reports whether name is a valid feed name, [a-z0-9_-]+: it
// becomes part of file names in the cache directory.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("invalid feed name %q: want 1 to %d characters of [a-z0-9_-]", name, maxNameLen)
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return fmt.Errorf("invalid feed name %q: want only [a-z0-9_-]", name)
		}
	}
	return nil
}

func bodyName(name, sum string) string { return name + "." + sum + bodyExt }

// LastGood returns the cached good copy of the feed name, as last
// committed, after checking its size and SHA-256 against the sidecar. When
// there is none the error wraps [io/fs.ErrNotExist].
func (f *Fetcher) LastGood(name string) (*Download, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if f.CacheDir == "" {
		return nil, fmt.Errorf("last good copy of %s: %w: %w", name, errNoCacheDir, fs.ErrNotExist)
	}
	defer lockName(f.CacheDir, name)()
	sc, err := f.readSidecar(name)
	if err != nil {
		return nil, fmt.Errorf("last good copy of %s: %w", name, err)
	}
	path := filepath.Join(f.CacheDir, sc.File)
	sum, size, err := hashFile(path)
	if err != nil {
		return nil, fmt.Errorf("last good copy of %s: %w", name, err)
	}
	if sum != sc.SHA256 || size != sc.Size {
		return nil, fmt.Errorf("last good copy of %s: %w: %s has %d bytes, sha256 %s; sidecar says %d bytes, sha256 %s",
			name, errCacheMismatch, path, size, sum, sc.Size, sc.SHA256)
	}
	return &Download{
		Name:         name,
		URL:          sc.URL,
		Path:         path,
		ETag:         sc.ETag,
		LastModified: sc.LastModified,
		FetchedAt:    sc.FetchedAt,
		SHA256:       sc.SHA256,
		Size:         sc.Size,
		FromCache:    true,
		Entries:      sc.Entries,
		f:            f,
		state:        stateCached,
	}, nil
}

// readSidecar reads and checks the sidecar of name.
func (f *Fetcher) readSidecar(name string) (*sidecar, error) {
	p := filepath.Join(f.CacheDir, name+sidecarExt)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var sc sidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	// The body must be this feed's, named after its hash: a sidecar never
	// points outside the cache directory or at another feed's body.
	if _, err := hex.DecodeString(sc.SHA256); err != nil || len(sc.SHA256) != 2*sha256.Size || sc.File != bodyName(name, sc.SHA256) || sc.Name != name {
		return nil, fmt.Errorf("%s: %w: bad name, sha256 or file", p, errCacheMismatch)
	}
	return &sc, nil
}

// Open opens the body for reading.
func (d *Download) Open() (io.ReadCloser, error) {
	if d.state == stateDiscarded {
		return nil, fmt.Errorf("open %s: %w", d.Name, errDone)
	}
	return os.Open(d.Path)
}

// Commit records that this body is good (the caller parsed it, entries is
// what it counted, and its gates passed) and makes it the feed's cached
// good copy, replacing the previous one atomically: the body is renamed
// (a candidate) or copied (a file feed) into the cache directory and
// synced, then the sidecar is written beside it through a synced temporary
// file and a rename. For a copy that came from the cache (a 304, offline,
// [Fetcher.LastGood]) only the sidecar is rewritten, with the new entry
// count and validators. After a successful Commit, Path of a candidate is
// the cached copy. For a file feed with no cache directory, Commit only
// records entries. Committing a discarded candidate is an error.
func (d *Download) Commit(entries int) error {
	if err := d.commit(entries); err != nil {
		return fmt.Errorf("commit %s: %w", d.Name, err)
	}
	d.Entries = entries
	return nil
}

func (d *Download) commit(entries int) error {
	f := d.f
	if f == nil {
		return errors.New("download was not made by a Fetcher")
	}
	if d.state == stateDiscarded {
		return errDone
	}
	if f.CacheDir == "" {
		if d.state == stateFile {
			return nil
		}
		return errNoCacheDir
	}
	if err := checkName(d.Name); err != nil {
		return err
	}
	defer lockName(f.CacheDir, d.Name)()
	if len(d.SHA256) != 2*sha256.Size {
		return fmt.Errorf("bad sha256 %q", d.SHA256)
	}
	if err := os.MkdirAll(f.CacheDir, cacheDirPerm); err != nil {
		return err
	}
	body := filepath.Join(f.CacheDir, bodyName(d.Name, d.SHA256))
	switch d.state {
	case stateCandidate:
		if err := os.Rename(d.Path, body); err != nil {
			return err
		}
		d.Path = body
		d.state = stateCached
		if err := syncDir(f.CacheDir); err != nil {
			return err
		}
	case stateFile:
		if err := f.copyIn(d, body); err != nil {
			return err
		}
	case stateCached:
		// Only the sidecar changes; the body must still be the good copy.
		sc, err := f.readSidecar(d.Name)
		if err != nil {
			return err
		}
		if filepath.Join(f.CacheDir, sc.File) != d.Path || sc.SHA256 != d.SHA256 {
			return fmt.Errorf("%w: the good copy changed since %s was read", errCacheMismatch, d.Path)
		}
	}
	sc := sidecar{
		Name:         d.Name,
		URL:          d.URL,
		File:         filepath.Base(body),
		ETag:         d.ETag,
		LastModified: d.LastModified,
		FetchedAt:    d.FetchedAt,
		SHA256:       d.SHA256,
		Size:         d.Size,
		Entries:      entries,
	}
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	if err := f.writeAtomic(d.Name, d.Name+sidecarExt, append(b, '\n')); err != nil {
		return err
	}
	f.removeOldBodies(d.Name, sc.File)
	return nil
}

// copyIn copies a file feed's source into the cache as body, checking that
// it still has the hash Fetch computed.
func (f *Fetcher) copyIn(d *Download, body string) error {
	src, err := os.Open(d.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := f.createTemp(d.Name)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err == nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != d.SHA256 || n != d.Size {
			err = fmt.Errorf("%s changed since it was fetched (%d bytes, sha256 %s; fetched %d bytes, sha256 %s)",
				d.Path, n, sum, d.Size, d.SHA256)
		}
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), body)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return syncDir(f.CacheDir)
}

// Discard removes a candidate that the caller rejected. It never touches
// the good copy: for a file feed or a cached copy it does nothing. It may
// be called more than once, and after Commit (then it does nothing).
func (d *Download) Discard() error {
	if d.state != stateCandidate {
		return nil
	}
	d.state = stateDiscarded
	if err := os.Remove(d.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("discard %s: %w", d.Name, err)
	}
	return nil
}

// createTemp creates a temporary file for the feed name in the cache
// directory; only a rename ever gives it a final name. Like every file in
// the cache it is private to its owner (mode 0600).
func (f *Fetcher) createTemp(name string) (*os.File, error) {
	return os.CreateTemp(f.CacheDir, "."+name+".*"+tempExt)
}

// writeAtomic writes data to file in the cache directory: a synced
// temporary file renamed over it, then the directory synced.
func (f *Fetcher) writeAtomic(name, file string, data []byte) error {
	tmp, err := f.createTemp(name)
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(f.CacheDir, file))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return syncDir(f.CacheDir)
}

// removeOldBodies removes the feed's body files other than keep: the
// previous good copy, or one orphaned by a crash before its sidecar was
// written. Failures only leave garbage behind, so they are logged.
func (f *Fetcher) removeOldBodies(name, keep string) {
	ents, err := os.ReadDir(f.CacheDir)
	if err != nil {
		f.logger().Warn("list cache directory", "dir", f.CacheDir, "err", err)
		return
	}
	for _, e := range ents {
		n := e.Name()
		if n == keep || !strings.HasPrefix(n, name+".") || !strings.HasSuffix(n, bodyExt) ||
			strings.Count(n, ".") != 2 {
			continue
		}
		if err := os.Remove(filepath.Join(f.CacheDir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.logger().Warn("remove old cached copy", "feed", name, "file", n, "err", err)
		}
	}
}

// removeStaleTemps removes the feed's temporary files older than
// staleTempAge, left by a process that died mid-fetch.
func (f *Fetcher) removeStaleTemps(name string) {
	ents, err := os.ReadDir(f.CacheDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "."+name+".") || !strings.HasSuffix(n, tempExt) || strings.Count(n, ".") != 3 {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < staleTempAge {
			continue
		}
		if err := os.Remove(filepath.Join(f.CacheDir, n)); err == nil {
			f.logger().Warn("removed stale temporary file", "feed", name, "file", n)
		}
	}
}

// hashFile returns the hex SHA-256 and size of the file at path.
func hashFile(path string) (string, int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// syncDir flushes a directory's entries (the renames into it) to disk.
// File systems that cannot sync a directory report EINVAL; that is not an
// error here.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}
