package lookup

import (
	"sync"
	"sync/atomic"
)

// Handle holds the current [DB] of a long-running service and swaps in a
// new one without stopping readers.
//
// A reader calls [Handle.Load] once per request and uses that snapshot
// throughout; Load is a single atomic load and never blocks. [Handle.Store]
// and [Handle.Reload] are serialised by a mutex, so two reloads never
// race, and readers see either the old DB or the new one, never a
// half-built one. The old DB is simply dropped: a reader still holding it
// keeps a valid, immutable snapshot until it lets go.
//
// The zero value is ready to use: Load returns nil until the first Store
// or successful Reload. A Handle must not be copied after first use.
type Handle struct {
	mu  sync.Mutex
	cur atomic.Pointer[DB]
}

// NewHandle returns a Handle serving db.
func NewHandle(db *DB) *Handle {
	h := new(Handle)
	h.cur.Store(db)
	return h
}

// Load returns the current DB, or nil if none was stored yet.
func (h *Handle) Load() *DB { return h.cur.Load() }

// Store makes db the current DB.
func (h *Handle) Store(db *DB) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cur.Store(db)
}

// Reload opens the MMDB at path beside the current DB and, once it is
// fully built, makes it current in one atomic store. On error the current
// DB keeps serving and the error is returned.
func (h *Handle) Reload(path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	db, err := Open(path)
	if err != nil {
		return err
	}
	h.cur.Store(db)
	return nil
}
