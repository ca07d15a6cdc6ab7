//go:build linux

package mapped_test

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
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

// ReadAhead brings a file the page cache does not hold into it, without
// the caller touching it: the store's open reads its file ahead of the walk
// over its pages.
func TestReadAheadFillsThePageCache(t *testing.T) {
	const size = 32 << 20
	path := filepath.Join(t.TempDir(), "file")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	const fadvDontNeed = 4
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		t.Skipf("fadvise: %v", errno)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	cached := func() int {
		t.Helper()
		vec := make([]byte, size/os.Getpagesize())
		if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), size, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
			t.Fatalf("mincore: %v", errno)
		}
		n := 0
		for _, v := range vec {
			n += int(v & 1)
		}
		return n * os.Getpagesize()
	}
	if before := cached(); before > size/4 {
		t.Skipf("the page cache kept %d of the file's %d bytes after fadvise", before, size)
	}
	stop := mapped.ReadAhead(path, uintptr(unsafe.Pointer(&b[0])), size)
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for cached() < size*3/4 {
		if time.Now().After(deadline) {
			t.Fatalf("after ReadAhead, %d of the file's %d bytes are in the page cache", cached(), size)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
