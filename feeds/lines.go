package feeds

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// decompress returns r, or a gzip reader over it when it starts with the
// gzip magic bytes (RFC 1952 §2.3.1: 0x1f 0x8b).
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return gzipReader{zr}, nil
	}
	return br, nil
}

// gzipReader names gzip as the cause of its read errors, so that a
// truncated download reads "gzip: unexpected EOF", not a bare EOF.
type gzipReader struct{ zr *gzip.Reader }

func (g gzipReader) Read(b []byte) (int, error) {
	n, err := g.zr.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("gzip: %w", err)
	}
	return n, err
}

// maxLineLen is the longest line a line-oriented parser accepts; longer
// lines are reported as invalid and skipped, never buffered whole.
const maxLineLen = 1 << 20

var errLineTooLong = errors.New("line too long")

// byteOrderMark is the byte order mark that Windows tools put before UTF-8 text.
var byteOrderMark = []byte{0xef, 0xbb, 0xbf}

// eachLine calls fn with every line of r (without the line ending, CR
// stripped, and without a byte order mark at the start of the first line)
// and its 1-based number. fn must not keep line. A line longer
// than maxLineLen is reported through p.bad and skipped. eachLine returns
// the first read error other than io.EOF.
func eachLine(r io.Reader, p *parser, fn func(n int, line []byte)) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	var long []byte
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long) <= maxLineLen {
				long = append(long, chunk...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			// A read error cuts the last line short: it is not data.
			return err
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		if len(line) > 0 {
			n++
			line = bytes.TrimSuffix(line, []byte{'\n'})
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if n == 1 {
				line = bytes.TrimPrefix(line, byteOrderMark)
			}
			if len(line) > maxLineLen {
				p.bad(n, line, errLineTooLong)
			} else {
				fn(n, line)
			}
		}
		long = nil
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// stripComment cuts line at the first '#' or ';' and trims surrounding
// white space.
func stripComment(line []byte) []byte {
	if i := bytes.IndexAny(line, "#;"); i >= 0 {
		line = line[:i]
	}
	return bytes.TrimSpace(line)
}
