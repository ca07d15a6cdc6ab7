//go:build linux

package mapped_test

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/actionledger/actionledger/services/mapped"
)

// The importer releases a store's pages when FileResident passes its budget,
// so FileResident must see a map's pages come in as they are read and go
// when Release drops them.
func TestFileResidentFollowsAMap(t *testing.T) {
	const size = 32 << 20
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	addr := uintptr(unsafe.Pointer(&b[0]))

	resident := func() int64 {
		t.Helper()
		n, ok := mapped.FileResident()
		if !ok {
			t.Fatal("FileResident could not read /proc/self/statm")
		}
		return n
	}
	mapped.Release(addr, size)
	before := resident()
	var sum byte
	for i := 0; i < size; i += os.Getpagesize() {
		sum += b[i]
	}
	read := resident()
	if got := read - before; got < size*3/4 {
		t.Fatalf("reading a %d-byte map added %d bytes resident (%d before, %d after; sum %d)", size, got, before, read, sum)
	}
	mapped.Release(addr, size)
	if got := read - resident(); got < size*3/4 {
		t.Fatalf("releasing the map dropped only %d of its %d bytes", got, size)
	}

	// The heap is not a file: memory the process writes to does not count.
	before = resident()
	heap := make([]byte, size)
	for i := 0; i < size; i += os.Getpagesize() {
		heap[i] = 1
	}
	if got := resident() - before; got > size/4 {
		t.Fatalf("writing %d bytes of heap added %d bytes of files resident", size, got)
	}
	runtime.KeepAlive(heap)
}
