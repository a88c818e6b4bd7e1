package feeds

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrNotFeed is wrapped by the error Parse returns for a body that is not
// the feed at all, so that a caller can keep its last good copy instead of
// publishing an empty or damaged list. It is returned, with no entries,
// for:
//
//   - an empty body: zero bytes, or only white space and a byte order mark,
//     after decompression, in any format. No feed is published as nothing
//     at all; a list that is legitimately empty still has its header (the
//     Spamhaus EDROP list after its merge into DROP is six ';' comment
//     lines, and X4BNet's Manual.txt two '#' lines), which is a valid feed
//     of zero records;
//   - an HTML document, in every format but mmdb: a body that starts,
//     after white space and a byte order mark, with "<!DOCTYPE html" or
//     "<html" in any case, as the error pages that web servers and CDNs
//     send with a 200 or that mirrors commit under the feed's name;
//   - a json or vpn-servers document that holds no address at all, such
//     as an API's error object.
//
// Match it with errors.Is.
var ErrNotFeed = errors.New("body is not the feed (no valid entries)")

var (
	errEmptyBody = fmt.Errorf("%w: empty body", ErrNotFeed)
	errHTMLBody  = fmt.Errorf("%w: an HTML document", ErrNotFeed)
)

// htmlStarts are the openings of an HTML document, lower case.
var htmlStarts = [][]byte{[]byte("<!doctype html"), []byte("<html")}

// checkBody looks at the start of r, without consuming it, and returns an
// error wrapping ErrNotFeed when the body is empty or an HTML document.
// It returns a reader that yields all of r. Only leading white space that
// fits in the read buffer is looked past: a body of more than 64 KiB of
// white space is left to the format's parser.
func checkBody(r io.Reader, f Format) (io.Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	// Peek one byte more at a time, so that a slow stream is never
	// waited on for more than the bytes the decision needs.
	i := 0
	for {
		b, err := br.Peek(i + 1)
		if len(b) <= i {
			if errors.Is(err, io.EOF) {
				return nil, errEmptyBody
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return br, nil
			}
			return nil, err
		}
		if i == 0 && bytes.HasPrefix(b, byteOrderMark[:1]) {
			bom, _ := br.Peek(len(byteOrderMark))
			if bytes.Equal(bom, byteOrderMark) {
				i = len(byteOrderMark)
				continue
			}
		}
		if isSpaceByte(b[i]) {
			i++
			continue
		}
		if b[i] != '<' || f == FormatMMDB {
			return br, nil
		}
		break
	}
	b, err := br.Peek(i + len(htmlStarts[0]))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	for _, start := range htmlStarts {
		if len(b)-i >= len(start) && bytes.EqualFold(b[i:i+len(start)], start) {
			return nil, errHTMLBody
		}
	}
	return br, nil
}

// isSpaceByte reports whether c is ASCII white space.
func isSpaceByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}
