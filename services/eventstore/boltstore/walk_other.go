//go:build !unix

package boltstore

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// readPages reads the file with ReadAt where the walk does not map it.
type readPages struct {
	f   *os.File
	buf []byte
}

func openPages(path string, size int64) (pageSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &readPages{f: f}, nil
}

func (r *readPages) bytes(off int64, n int) ([]byte, error) {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := r.f.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("page walk: bytes [%d, %d) past the end of the file", off, off+int64(n))
		}
		return nil, err
	}
	return b, nil
}

func (r *readPages) close() error { return r.f.Close() }
